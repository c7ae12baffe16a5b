import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// Bad guests under `Machine.run` end in a guest-visible fault, a clean stop with a register dump,
/// or the timeout: never a Swift trap or a `.failed` run (issue: "Bad guests").
final class BadGuestTests: XCTestCase {
    static let code: UInt64 = 0x10_0000

    func run(_ code: [UInt8], _ state: BootState, timeout: Double = 10,
             prepare: (Machine) throws -> Void = { _ in }) throws -> MachineOutcome {
        let machine = try Machine(memorySize: 16 << 20, vcpuCount: 1)
        try BootGDT.write(into: machine.memory)
        try IdentityPageTables.write(into: machine.memory)
        try machine.memory.write(code, at: Self.code)
        try prepare(machine)
        machine.bootState = state
        return try machine.run(on: SoftBackend(), timeout: timeout)
    }

    func assertShutdownWithDump(_ outcome: MachineOutcome, file: StaticString = #filePath, line: UInt = #line) {
        guard case let .shutdown(_, dump) = outcome else {
            return XCTFail("expected a triple-fault shutdown, got \(outcome)", file: file, line: line)
        }
        XCTAssertTrue(dump.contains("RIP"), "the register dump names RIP:\n\(dump)", file: file, line: line)
    }

    /// `mov rax, 0x5_0000_0000; jmp rax`: above the 4 GiB identity map, so the fetch page-faults;
    /// with no IDT the #PF becomes #DF and then a triple fault.
    func testJumpIntoUnmappedMemoryIn64BitMode() throws {
        let code: [UInt8] = [0x48, 0xb8, 0, 0, 0, 0, 5, 0, 0, 0, 0xff, 0xe0]
        assertShutdownWithDump(try run(code, .longMode(entry: Self.code)))
    }

    /// `mov eax, 0xe0000000; jmp eax` with paging off: into the MMIO hole, where nothing answers.
    func testJumpOutsideGuestRAMWithPagingOff() throws {
        let code: [UInt8] = [0xb8, 0, 0, 0, 0xe0, 0xff, 0xe0]
        let outcome = try run(code, .flatProtectedMode(entry: UInt32(Self.code), eax: 0, ebx: 0))
        assertShutdownWithDump(outcome)
    }

    /// Every IDT gate leads to `add esp, 12; ud2`: each #UD is delivered, drops its frame and raises
    /// the next one, forever. The storm is the guest's business; `--timeout` (here 1 s) bounds it.
    func testExceptionStormIsBoundedByTheTimeout() throws {
        let handler = Self.code + 0x1000
        let idt: UInt64 = 0x30_0000
        let outcome = try run([0x0f, 0x0b], {
            var state = BootState.flatProtectedMode(entry: UInt32(Self.code), eax: 0, ebx: 0)
            state.general.rsp = BootLayout.standard.stackTop
            state.system.idt = DescriptorTableRegister(base: idt, limit: 256 * 8 - 1)
            return state
        }(), timeout: 1) { machine in
            try machine.memory.write([0x83, 0xc4, 0x0c, 0x0f, 0x0b], at: handler)
            // 32-bit interrupt gates (SDM vol. 3, 6.11): offset, code selector, P=1 DPL=0 type 0xE.
            let gate = (handler & 0xffff) | UInt64(BootGDT.code32Selector) << 16 | 0x8e00 << 32
                | (handler >> 16) << 48
            for vector in UInt64(0)..<256 { try machine.memory.write(gate, at: idt + vector * 8) }
        }
        XCTAssertEqual(outcome, .timedOut(seconds: 1))
    }

    /// `mov byte [target], 0xf4` then `target: jmp $`: the store turns the loop into HLT inside the
    /// block being executed. A stale decoded block would spin until the timeout; the CPU must see
    /// the new byte, halt with interrupts off and power off.
    func testSelfModifyingCodeInTheRunningBlock() throws {
        let target = UInt32(Self.code) + 7
        let code: [UInt8] = [0xc6, 0x05] + withUnsafeBytes(of: target.littleEndian, Array.init) + [0xf4, 0xeb, 0xfe]
        let outcome = try run(code, .flatProtectedMode(entry: UInt32(Self.code), eax: 0, ebx: 0), timeout: 5)
        XCTAssertEqual(outcome, .poweredOff)
    }

    /// Garbage bytes at the entry point with a garbage IDT: whatever happens, the run ends cleanly.
    func testGarbageCodeEndsCleanly() throws {
        var seed: UInt64 = 0x5eed
        let garbage = (0..<4096).map { _ -> UInt8 in
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return UInt8(truncatingIfNeeded: seed >> 33)
        }
        var state = BootState.longMode(entry: Self.code)
        state.system.idt = DescriptorTableRegister(base: Self.code + 0x800, limit: 0xfff)
        let outcome = try run(garbage, state, timeout: 2)
        if case let .failed(why) = outcome { XCTFail(why) }
    }
}
