import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// A hostile guest must never trap Swift: random code in every mode only ever completes, halts or
/// raises guest exceptions.
final class SoftRobustnessTests: XCTestCase {
    /// xorshift64*: deterministic, so a failure reproduces.
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 0x2545_f491_4f6c_dd1d
        }
    }

    /// `translateAtOnce` makes every block translatable on first sight, so the random code runs as
    /// host code wherever the translator accepts it.
    func run(_ mode: SoftCPUFixture.Mode, seed: UInt64, translateAtOnce: Bool = false) throws {
        var random = Random(state: seed)
        let bytes = (0..<8192).map { _ in UInt8(truncatingIfNeeded: random.next()) }
        let cpu = try SoftCPUFixture(mode, code: bytes)
        if translateAtOnce { cpu.cpu.translationThreshold = 1 }
        if mode != .real16 { try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR } }
        let start = mode == .real16 ? UInt64(0x7c00) : SoftCPUFixture.codeAddress
        var outcomes = 0
        for _ in 0..<3000 {
            let original = try cpu.cpu.generalRegisters()
            var registers = original
            registers.rip = start + random.next() % 8000
            for keyPath in [\GeneralRegisters.rax, \.rbx, \.rcx, \.rdx, \.rsi, \.rdi, \.rbp, \.r8, \.r9] {
                registers[keyPath: keyPath] = random.next() % 3 == 0 ? random.next() : random.next() % 0x4000
            }
            registers.rsp = mode == .real16 ? 0x7000 : BootLayout.standard.stackTop
            // A random POPF or IRET may have left TF set; each run starts without single-stepping, so
            // that a trap after every instruction does not starve the instruction count checked below.
            registers.rflags &= ~UInt64(0x100)
            try cpu.cpu.setGeneralRegisters(registers)
            _ = try cpu.cpu.step(instructions: 50)
            outcomes += 1
        }
        XCTAssertEqual(outcomes, 3000)
        XCTAssertGreaterThan(cpu.cpu.instructionsRetired, 3000, "the random code actually ran")
        if translateAtOnce {
            XCTAssertGreaterThan(cpu.cpu.translatedBlocks, 0, "random blocks were translated")
            XCTAssertGreaterThan(cpu.cpu.nativeInstructionsRetired, 0, "and ran as host code")
            print("random 64-bit code: \(cpu.cpu.translatedBlocks) blocks translated, "
                  + "\(cpu.cpu.nativeInstructionsRetired) of \(cpu.cpu.instructionsRetired) instructions ran translated")
        }
    }

    /// Through `Machine.run`, where exceptions are delivered (here through a random IDT) until the
    /// guest shuts down, halts, or the watchdog stops it.
    func testRandomCodeUnderMachineRunNeverFails() throws {
        for seed in UInt64(1)...6 {
            var random = Random(state: seed &* 0x9e37_79b9_7f4a_7c15)
            let machine = try Machine(memorySize: 16 << 20, vcpuCount: 1)
            try BootGDT.write(into: machine.memory)
            try IdentityPageTables.write(into: machine.memory)
            try machine.memory.write((0..<65536).map { _ in UInt8(truncatingIfNeeded: random.next()) }, at: 0x10_0000)
            var state = seed % 2 == 0 ? BootState.longMode(entry: 0x10_0000 + random.next() % 60000)
                : BootState.flatProtectedMode(entry: UInt32(0x10_0000 + random.next() % 60000), eax: 0, ebx: 0)
            state.system.idt = DescriptorTableRegister(base: 0x10_0000 + random.next() % 4096, limit: 0xfff)
            machine.bootState = state
            let outcome = try machine.run(on: SoftBackend(), timeout: 2)
            if case let .failed(why) = outcome { XCTFail("seed \(seed): \(why)") }
        }
    }

    func testRandomCodeIn64BitMode() throws { try run(.long64, seed: 0x1234_5678) }
    func testRandomCodeTranslatedIn64BitMode() throws {
        try requireTranslation()
        try run(.long64, seed: 0x5eed_0f_c0de, translateAtOnce: true)
    }
    func testRandomCodeIn32BitMode() throws { try run(.protected32, seed: 0x9abc_def0) }
    func testRandomCodeInRealMode() throws { try run(.real16, seed: 0x0fed_cba9) }
}
