import SoftBackend
import VMMKit
import XCTest

/// Single-step traps, instruction breakpoints, RF and general detect (SDM vol. 3, ch. 18). In step
/// mode a #DB is reported rather than delivered, with RIP where the handler would get it.
final class SoftDebugExceptionTests: XCTestCase {
    private static let trapFlag: UInt64 = 1 << 8, resumeFlag: UInt64 = 1 << 16
    private static let singleStep: UInt64 = 1 << 14, generalDetect: UInt64 = 1 << 13

    func testPOPFSettingTFTrapsAfterTheNextInstruction() throws {
        // pushfq; orq $0x100,(%rsp); popfq; nop; nop
        let cpu = try SoftCPUFixture(.long64, code: [0x9c, 0x48, 0x81, 0x0c, 0x24, 0x00, 0x01, 0x00, 0x00, 0x9d, 0x90, 0x90])
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 11, "after the NOP after POPF")
        XCTAssertNotEqual(try cpu.cpu.debugRegisters().dr6 & Self.singleStep, 0)
    }

    func testMOVSSHoldsTheTrapToTheFollowingInstruction() throws {
        // mov %ss,%eax; mov %eax,%ss; nop; nop -- with TF set
        let cpu = try SoftCPUFixture(.long64, code: [0x8c, 0xd0, 0x8e, 0xd0, 0x90, 0x90])
        try cpu.setRegisters { $0.rflags |= Self.trapFlag }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 2)
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 5, "no trap between MOV SS and NOP")
    }

    /// SYSCALL with TF set, to a NOP at LSTAR; FMASK as given.
    private func stepSystemCall(flagMask: UInt64) throws -> (SoftStepOutcome, UInt64) {
        var code: [UInt8] = [0x0f, 0x05] + [UInt8](repeating: 0x90, count: 14)
        code += [0x90, 0x90]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.setSystemRegisters { $0.efer |= ControlBits.eferSCE }
        try cpu.cpu.writeMSR(0xc000_0081, value: 0x0010_0008_0000_0000)
        try cpu.cpu.writeMSR(0xc000_0082, value: SoftCPUFixture.codeAddress + 0x10)
        try cpu.cpu.writeMSR(0xc000_0084, value: flagMask)
        try cpu.setRegisters { $0.rflags |= Self.trapFlag }
        let outcome = try cpu.cpu.step(instructions: 1)
        return (outcome, try cpu.cpu.generalRegisters().rip)
    }

    func testSYSCALLTrapsAtTheEntryPointUnlessFMASKClearsTF() throws {
        let unmasked = try stepSystemCall(flagMask: 0)
        XCTAssertEqual(unmasked.0, .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(unmasked.1, SoftCPUFixture.codeAddress + 0x10)
        let masked = try stepSystemCall(flagMask: Self.trapFlag)
        XCTAssertEqual(masked.0, .completed, "FMASK cleared TF: no #DB in the kernel entry")
        XCTAssertEqual(masked.1, SoftCPUFixture.codeAddress + 0x10)
    }

    func testInstructionBreakpointIsAFaultThatRFSuppressesOnce() throws {
        let cpu = try SoftCPUFixture(.long64, code: [0x90, 0x90, 0x90, 0x90])
        var debug = DebugRegisters()
        debug.dr0 = SoftCPUFixture.codeAddress + 1
        debug.dr7 |= 1 // L0, R/W0 = 00: execution
        try cpu.cpu.setDebugRegisters(debug)
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 1, "before the instruction")
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 1, "B0")
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 1, errorCode: nil), "RF=0: hits again")
        // What a handler's IRET with RF=1 leaves: the instruction runs once, and RF clears after it.
        try cpu.setRegisters { $0.rflags |= Self.resumeFlag }
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .completed)
        let registers = try cpu.cpu.generalRegisters()
        XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + 2)
        XCTAssertEqual(registers.rflags & Self.resumeFlag, 0)
    }

    func testRFClearsAfterOneInstructionWithoutBreakpoints() throws {
        let cpu = try SoftCPUFixture(.long64, code: [0x90, 0x90])
        try cpu.setRegisters { $0.rflags |= Self.resumeFlag }
        try cpu.step(1)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rflags & Self.resumeFlag, 0)
    }

    func testGeneralDetectFaultsOnDebugRegisterAccess() throws {
        // mov %dr7,%rax with DR7.GD set
        let cpu = try SoftCPUFixture(.long64, code: [0x0f, 0x21, 0xf8])
        var debug = DebugRegisters()
        debug.dr7 |= Self.generalDetect
        try cpu.cpu.setDebugRegisters(debug)
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 1, errorCode: nil))
        let after = try cpu.cpu.debugRegisters()
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress, "a fault")
        XCTAssertNotEqual(after.dr6 & Self.generalDetect, 0, "BD")
        XCTAssertEqual(after.dr7 & Self.generalDetect, 0, "GD cleared for the handler")
    }
}
