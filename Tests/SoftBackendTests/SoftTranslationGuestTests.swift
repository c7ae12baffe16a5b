import HostIO
import PCBoard
import Serial16550
import SoftBackend
import TestSupport
import VMMKit
import XCTest

/// The block translator end to end: the compute guests give the same output with translation on as
/// with the interpreter alone, most of their instructions really run as translated code, and code
/// that rewrites a translated loop is seen at once.
final class SoftTranslationGuestTests: XCTestCase {
    struct Run {
        let outcome: MachineOutcome
        let serial: String
        let retired: UInt64
        let translated: UInt64
    }

    /// Boots `name` on the soft backend with `append` on its command line (a 300-second watchdog: a
    /// debug build on a loaded machine is slow, and only a hang should end the run).
    func boot(_ name: String, append: String, translation: Bool) throws -> Run {
        let output = ConsoleOutput.memory()
        let description = MachineDescription(kernelPath: try GuestKernels.path(name), memorySize: 64 << 20,
                                             commandLine: append, serial: .output(output))
        let machine = try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
        let outcome = try machine.run(on: SoftBackend(translatesHotBlocks: translation), timeout: 300)
        output.flush()
        let rows = Dictionary(machine.statistics, uniquingKeysWith: +)
        return Run(outcome: outcome, serial: output.capturedText,
                   retired: rows[ExitStatistics.instructionsRetiredRow] ?? 0,
                   translated: rows[ExitStatistics.instructionsTranslatedRow] ?? 0)
    }

    /// The guest's result lines (the cycle count differs from run to run).
    func results(_ serial: String) -> [String] {
        serial.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("cycles:") }
    }

    func checkTranslated(_ name: String, append: String, expected: String) throws {
        let interpreted = try boot(name, append: append, translation: false)
        let translated = try boot(name, append: append, translation: true)
        try requireTranslation()
        XCTAssertEqual(interpreted.outcome, .guestExit(value: 0), interpreted.serial)
        XCTAssertEqual(translated.outcome, .guestExit(value: 0), translated.serial)
        XCTAssertTrue(translated.serial.contains(expected), translated.serial)
        XCTAssertEqual(results(translated.serial), results(interpreted.serial))
        XCTAssertEqual(interpreted.translated, 0, "translation off runs nothing translated")
        // The compute loops are hot blocks: nearly everything should run translated.
        let share = Double(translated.translated) / Double(max(translated.retired, 1))
        XCTAssertGreaterThan(share, 0.9, "\(translated.translated) of \(translated.retired) instructions translated")
        print("\(name) \(append): \(translated.translated) of \(translated.retired) instructions translated")
    }

    func testCRC32Translated() throws {
        try checkTranslated("crc32", append: "n=3000000", expected: "crc32: 96f516f6 over 3000000 bytes")
    }

    func testSieveTranslated() throws {
        // 6 MB: more than the software TLB maps (1024 pages), so stores keep missing it and take the
        // translated code's refill path.
        try checkTranslated("sieve", append: "n=6000000", expected: "sieve: 412849 primes below 6000000")
    }

    /// The sieve as 32-bit code (gcc -m32): protected-mode code translated like 64-bit code.
    func testSieve32Translated() throws {
        try checkTranslated("sieve32", append: "n=1000000", expected: "sieve: 78498 primes below 1000000")
    }

    func testMemcpyTranslated() throws {
        try checkTranslated("memcpy", append: "n=4000000", expected: "memcpy: checksum")
    }

    /// A translated loop stores into its own code (the immediate it adds); the next pass must add the
    /// new value. The store leaves the translated code (code pages are never in the write TLB), the
    /// interpreter's write drops every decoded and translated block, and the rewritten loop is
    /// translated afresh.
    func testStoreIntoTranslatedLoopIsSeen() throws {
        // loop: add rax, imm32 (48 05 imm32) at +0; inc rcx; cmp rcx, 1000; jne loop; then rewrite
        // the imm32 to 2, run the loop 1000 more times, hlt.
        let code: [UInt8] = [
            0x48, 0x05, 0x01, 0x00, 0x00, 0x00,             // +0  add rax, 1
            0x48, 0xff, 0xc1,                               // +6  inc rcx
            0x48, 0x81, 0xf9, 0xe8, 0x03, 0x00, 0x00,       // +9  cmp rcx, 1000
            0x75, 0xee,                                     // +16 jne +0
            0xc7, 0x05, 0xe6, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, // +18 mov dword [rip-26], 2: at +2
            0x48, 0x31, 0xc9,                               // +28 xor rcx, rcx
            0xeb, 0xdf,                                     // +31 jmp +0 (second round)
        ]
        let fixture = try SoftCPUFixture(.long64, code: code)
        try requireTranslation()
        fixture.cpu.translationThreshold = 1
        // First round: 1000 passes of 4 instructions, the rewrite (2), then the second round.
        XCTAssertEqual(try fixture.cpu.step(instructions: 4000 + 3 + 4000), .completed)
        let registers = try fixture.cpu.generalRegisters()
        XCTAssertEqual(registers.rax, 1000 + 2 * 1000, "the second round adds the rewritten immediate")
        XCTAssertEqual(registers.rcx, 1000)
        XCTAssertGreaterThanOrEqual(fixture.cpu.translatedBlocks, 2, "the loop was translated before and after the store")
        XCTAssertGreaterThan(fixture.cpu.nativeInstructionsRetired, 6000)
    }

    /// CALL, PUSH, POP and RET in translated code: a loop calls a function 1,000 times; the sum, the
    /// preserved register and the stack pointer come out as the interpreter leaves them.
    func testCallsAndStackOperationsTranslated() throws {
        let code: [UInt8] = [
            0x48, 0x31, 0xc0,                               // +0  xor rax, rax
            0x48, 0xc7, 0xc1, 0xe8, 0x03, 0x00, 0x00,       // +3  mov rcx, 1000
            0xe8, 0x0b, 0x00, 0x00, 0x00,                   // +10 call +26
            0x48, 0xff, 0xc9,                               // +15 dec rcx
            0x75, 0xf6,                                     // +18 jne +10
            0xf4,                                           // +20 hlt
            0x90, 0x90, 0x90, 0x90, 0x90,                   // +21
            0x53,                                           // +26 push rbx
            0x48, 0x89, 0xcb,                               // +27 mov rbx, rcx
            0x48, 0x01, 0xd8,                               // +30 add rax, rbx
            0x5b,                                           // +33 pop rbx
            0xc3,                                           // +34 ret
        ]
        try requireTranslation()
        var results: [GeneralRegisters] = []
        for translated in [false, true] {
            let fixture = try SoftCPUFixture(.long64, code: code)
            try fixture.setRegisters { $0.rbx = 0x5eed }
            fixture.cpu.translationEnabled = translated
            fixture.cpu.translationThreshold = 1
            XCTAssertEqual(try fixture.cpu.step(instructions: 9000), .halted)
            results.append(try fixture.cpu.generalRegisters())
            if translated {
                XCTAssertGreaterThan(fixture.cpu.nativeInstructionsRetired, 6000, "the calls ran as host code")
            }
        }
        XCTAssertEqual(results[1].rax, 500_500)
        XCTAssertEqual(results[1].rbx, 0x5eed, "PUSH/POP kept RBX")
        XCTAssertEqual(results[1].rsp, results[0].rsp, "the stack is balanced")
        XCTAssertEqual(results[1].rip, results[0].rip)
        XCTAssertEqual(results[1].rflags, results[0].rflags)
    }

    /// A loop whose block starts with an instruction the translator leaves to the interpreter (CQO):
    /// the interpreter runs that one, and the rest of the block, looked up as a block of its own,
    /// runs translated; the result is the interpreter's.
    func testUntranslatableInstructionCostsOnlyItself() throws {
        let code: [UInt8] = [
            0xb9, 0xe8, 0x03, 0x00, 0x00,                   // +0  mov ecx, 1000
            0x48, 0x99, 0x90,                               // +5  cqo (RDX = RAX's sign); nop
            0x48, 0x83, 0xc6, 0x01,                         // +8  add rsi, 1
            0x48, 0x83, 0xc7, 0x02,                         // +12 add rdi, 2
            0x49, 0x83, 0xc0, 0x03,                         // +16 add r8, 3
            0x49, 0x01, 0xc1,                               // +20 add r9, rax
            0xff, 0xc9,                                     // +23 dec ecx
            0x75, 0xea,                                     // +25 jne +5
            0xf4,                                           // +27 hlt
        ]
        try requireTranslation()
        var results: [GeneralRegisters] = []
        for translated in [false, true] {
            let fixture = try SoftCPUFixture(.long64, code: code)
            try fixture.setRegisters { $0.rax = 3; $0.rbx = 0x1_0000_0001 }
            fixture.cpu.translationEnabled = translated
            fixture.cpu.translationThreshold = 1
            XCTAssertEqual(try fixture.cpu.step(instructions: 10_000), .halted)
            results.append(try fixture.cpu.generalRegisters())
            if translated {
                // Eight instructions a pass, the CQO among them interpreted: at least six translated.
                XCTAssertGreaterThan(fixture.cpu.nativeInstructionsRetired, 5500, "the rest of the loop ran as host code")
            }
        }
        XCTAssertEqual(results[1], results[0])
    }

    /// JMP through a table in memory, JMP r and CALL r in translated code: a loop dispatches through
    /// a two-entry jump table and calls a function through a register; the state is the
    /// interpreter's and most of it ran as host code.
    func testIndirectJumpsAndCallsTranslated() throws {
        let table = SoftCPUFixture.dataAddress
        let code: [UInt8] = [
            0xb9, 0xe8, 0x03, 0x00, 0x00,                   // +0  mov ecx, 1000
            0x89, 0xc8,                                     // +5  mov eax, ecx
            0x83, 0xe0, 0x01,                               // +7  and eax, 1
            0xff, 0x24, 0xc5, 0x00, 0x00, 0x20, 0x00,       // +10 jmp [rax*8 + 0x200000]
            0x48, 0x83, 0xc6, 0x01,                         // +17 even: add rsi, 1
            0xeb, 0x04,                                     // +21 jmp +27
            0x48, 0x83, 0xc7, 0x01,                         // +23 odd: add rdi, 1
            0x48, 0x8d, 0x15, 0x0c, 0x00, 0x00, 0x00,       // +27 lea rdx, [rip + 12] (+46)
            0xff, 0xd2,                                     // +34 call rdx
            0xff, 0xc9,                                     // +36 dec ecx
            0x75, 0xdd,                                     // +38 jne +5
            0xf4,                                           // +40 hlt
            0x90, 0x90, 0x90, 0x90, 0x90,                   // +41
            0x49, 0x83, 0xc0, 0x03,                         // +46 add r8, 3
            0xc3,                                           // +50 ret
        ]
        try requireTranslation()
        var results: [GeneralRegisters] = []
        for translated in [false, true] {
            let fixture = try SoftCPUFixture(.long64, code: code)
            try fixture.machine.memory.write(SoftCPUFixture.codeAddress + 17, at: table)
            try fixture.machine.memory.write(SoftCPUFixture.codeAddress + 23, at: table + 8)
            fixture.cpu.translationEnabled = translated
            fixture.cpu.translationThreshold = 1
            XCTAssertEqual(try fixture.cpu.step(instructions: 20_000), .halted)
            results.append(try fixture.cpu.generalRegisters())
            if translated {
                XCTAssertGreaterThan(fixture.cpu.nativeInstructionsRetired, 8000, "the dispatch ran as host code")
            }
        }
        XCTAssertEqual(results[1].rsi, 500)
        XCTAssertEqual(results[1].rdi, 500)
        XCTAssertEqual(results[1].r8, 3000)
        XCTAssertEqual(results[1], results[0])
    }

    /// Translated blocks chain: a loop whose body is three blocks (a call, the function, the return
    /// and the loop's branch) goes round without coming back to the run loop each time.
    func testTranslatedBlocksChainToEachOther() throws {
        try requireTranslation()
        let code: [UInt8] = [
            0x48, 0x31, 0xc0,                               // +0  xor rax, rax
            0x48, 0xc7, 0xc1, 0x10, 0x27, 0x00, 0x00,       // +3  mov rcx, 10000
            0xe8, 0x09, 0x00, 0x00, 0x00,                   // +10 call +24
            0x48, 0xff, 0xc9,                               // +15 dec rcx
            0x75, 0xf6,                                     // +18 jne +10
            0xeb, 0x06,                                     // +20 jmp +28
            0x90, 0x90,                                     // +22
            0x48, 0x01, 0xc8,                               // +24 add rax, rcx
            0xc3,                                           // +27 ret
            0xf4,                                           // +28 hlt
        ]
        let fixture = try SoftCPUFixture(.long64, code: code)
        fixture.cpu.translationThreshold = 1
        XCTAssertEqual(try fixture.cpu.step(instructions: 60_000), .halted)
        XCTAssertEqual(try fixture.cpu.generalRegisters().rax, 50_005_000)
        XCTAssertGreaterThan(fixture.cpu.nativeInstructionsRetired, 45_000)
        XCTAssertLessThan(fixture.cpu.translatedCodeCalls, 100, "\(fixture.cpu.translatedCodeCalls) calls for 10,000 rounds")
    }

    /// GS-relative operands in translated code (Linux's per-CPU data): the segment base is added to
    /// the effective address, as the interpreter does.
    func testGSRelativeOperandsTranslated() throws {
        try requireTranslation()
        let code: [UInt8] = [
            0x48, 0xc7, 0xc1, 0xe8, 0x03, 0x00, 0x00,                   // +0  mov rcx, 1000
            0x65, 0x48, 0x8b, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00,       // +7  mov rax, gs:[0x10]
            0x48, 0x83, 0xc0, 0x03,                                     // +16 add rax, 3
            0x65, 0x48, 0x89, 0x04, 0x25, 0x10, 0x00, 0x00, 0x00,       // +20 mov gs:[0x10], rax
            0x48, 0xff, 0xc9,                                           // +29 dec rcx
            0x75, 0xe5,                                                 // +32 jne +7
            0xf4,                                                       // +34 hlt
        ]
        for translated in [false, true] {
            let fixture = try SoftCPUFixture(.long64, code: code)
            try fixture.setSystemRegisters { $0.gs.base = SoftCPUFixture.dataAddress }
            fixture.cpu.translationEnabled = translated
            fixture.cpu.translationThreshold = 1
            XCTAssertEqual(try fixture.cpu.step(instructions: 6000), .halted)
            XCTAssertEqual(try fixture.machine.memory.read(UInt64.self, at: SoftCPUFixture.dataAddress + 0x10), 3000,
                           "translated: \(translated)")
            XCTAssertEqual(try fixture.machine.memory.read(UInt64.self, at: 0x10), 0, "nothing written without the base")
            if translated { XCTAssertGreaterThan(fixture.cpu.nativeInstructionsRetired, 4000) }
        }
    }
}
