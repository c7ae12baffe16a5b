import SoftBackend
import VMMKit
import XCTest

/// I/O breakpoints (SDM vol. 3, 18.2.4-18.2.5 and 18.3.1.2): with CR4.DE, DR7 R/W = 10 traps after
/// an IN, OUT, INS or OUTS that touches any port of the LEN bytes at DRn (aligned down), with DR6.Bn
/// set; a repeated INS/OUTS traps after the iteration that hit. Without CR4.DE the encoding is
/// undefined and the breakpoint stays inert. In step mode the #DB is reported, RIP after the access.
final class SoftIOBreakpointTests: XCTestCase {
    static let io: UInt64 = 2, debugExtensions: UInt64 = 1 << 3

    /// A fixture running `code` with CR4.DE as given and breakpoint `index` an I/O breakpoint on
    /// `bytes` ports at `port`.
    func machine(_ code: [UInt8], port: UInt64, bytes: UInt64, index: Int = 0, extensions: Bool = true) throws -> SoftCPUFixture {
        let cpu = try SoftCPUFixture(.long64, code: code)
        if extensions { try cpu.setSystemRegisters { $0.cr4 |= Self.debugExtensions } }
        try SoftDataBreakpointTests.arm(cpu, index, at: port, kind: Self.io, bytes: bytes)
        return cpu
    }

    func testOUTTrapsAfterTheInstructionWithBn() throws {
        // out %al,$0x80; nop
        let cpu = try machine([0xe6, 0x80, 0x90], port: 0x80, bytes: 1, index: 2)
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 2, "a trap: after the OUT")
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 1 << 2, "B2")
    }

    func testAnyPortOfTheAlignedRangeHits() throws {
        // in (%dx),%ax: ports DX and DX+1
        let code: [UInt8] = [0x66, 0xed, 0x90]
        for (breakpoint, bytes, dx, hits) in [(UInt64(0x80), UInt64(2), UInt64(0x81), true), (0x82, 2, 0x81, true),
                                              (0x83, 4, 0x7f, true), (0x84, 4, 0x82, false), (0x85, 4, 0x87, true),
                                              (0x78, 8, 0x7f, true), (0x78, 8, 0x70, false)] {
            let cpu = try machine(code, port: breakpoint, bytes: bytes)
            try cpu.setRegisters { $0.rdx = dx }
            let expected: SoftStepOutcome = hits ? .exception(vector: 1, errorCode: nil) : .completed
            XCTAssertEqual(try cpu.cpu.step(instructions: 2), expected, "DR0=\(breakpoint) LEN \(bytes) DX=\(dx)")
        }
    }

    func testWithoutCR4DEAnIOBreakpointIsInert() throws {
        // out %al,$0x80; nop: DR7 takes R/W = 10 (no fault), and nothing traps.
        let cpu = try machine([0xe6, 0x80, 0x90], port: 0x80, bytes: 1, extensions: false)
        XCTAssertEqual(try cpu.cpu.step(instructions: 2), .completed)
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 0)
    }

    func testRepeatedOUTSTrapsAfterTheIterationThatHit() throws {
        // rep outsb; nop -- DX = 0x80, RCX = 4
        let cpu = try machine([0xf3, 0x6e, 0x90], port: 0x80, bytes: 1)
        try cpu.setRegisters { $0.rdx = 0x80; $0.rcx = 4; $0.rsi = SoftCPUFixture.dataAddress }
        try cpu.assertDebugTrap(at: 0, rcx: 3, also: (\.rsi, SoftCPUFixture.dataAddress + 1), hits: 1)
    }

    func testINSOfAnotherPortRunsToTheEnd() throws {
        // rep insb; nop -- DX = 0x70, RCX = 4, breakpoint on 0x80
        let cpu = try machine([0xf3, 0x6c, 0x90], port: 0x80, bytes: 1)
        try cpu.setRegisters { $0.rdx = 0x70; $0.rcx = 4; $0.rdi = SoftCPUFixture.dataAddress }
        XCTAssertEqual(try cpu.cpu.step(instructions: 2), .completed)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rcx, 0)
    }

    func testIOFromCodeThatRanTranslatedIsCaught() throws {
        // 1: inc %ecx; mov %ecx,%edx; mov %ecx,%eax; out %al,(%dx); cmp $0x400,%ecx; jne 1b; hlt -- ports
        // 1, 2, ...; the three instructions before the OUT are translated, the OUT never is. The same
        // bytes in 64-bit and in 32-bit code.
        let code: [UInt8] = [0xff, 0xc1, 0x89, 0xca, 0x89, 0xc8, 0xee, 0x81, 0xf9, 0x00, 0x04, 0x00, 0x00, 0x75, 0xf1, 0xf4]
        for mode in [SoftCPUFixture.Mode.long64, .protected32] {
            let cpu = try SoftCPUFixture.warmedUp(code, mode: mode)
            try cpu.setSystemRegisters { $0.cr4 |= Self.debugExtensions }
            try SoftDataBreakpointTests.arm(cpu, 1, at: 0x300, kind: Self.io, bytes: 1)
            try cpu.assertDebugTrap(at: 7, rcx: 0x300, hits: 2, instructions: 100_000) // after the OUT
        }
    }

    func testMOVToDR7OrDR6WithUpperBitsSetIsAGeneralProtectionFault() throws {
        // mov $1<<32,%rax; mov %rax,%dr7 / mov %rax,%dr6
        for modrm: UInt8 in [0xf8, 0xf0] {
            let cpu = try SoftCPUFixture(.long64, code: [0x48, 0xb8, 0, 0, 0, 0, 1, 0, 0, 0, 0x0f, 0x23, modrm])
            try cpu.step(1)
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 13, errorCode: 0), "modrm \(modrm)")
        }
    }
}
