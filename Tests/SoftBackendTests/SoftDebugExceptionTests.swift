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

    /// SYSRET loads TF from R11 and is judged by it, as SYSCALL is: with TF clear as SYSRET begins and
    /// set in R11, the trap comes at the user's first instruction, to compatibility mode (SYSRETL) and
    /// to 64-bit mode (SYSRETQ) alike (the sequence of kvm-unit-tests' syscall test).
    func testSYSRETThatSetsTFTrapsAtTheUsersFirstInstruction() throws {
        for (sysret, userCS) in [([UInt8]([0x0f, 0x07]), UInt16(0x1b)), ([0x48, 0x0f, 0x07], 0x2b)] {
            let cpu = try SoftCPUFixture(.long64, code: sysret + [UInt8](repeating: 0x90, count: 0x40))
            // GDT: null, kernel code 0x08, kernel data 0x10, user 32-bit code 0x18, user data 0x20, user 64-bit code 0x28.
            try cpu.prepareForSystemCalls(descriptors: [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff, 0x00cf_fb00_0000_ffff,
                                                        0x00cf_f300_0000_ffff, 0x00af_fb00_0000_ffff])
            try cpu.cpu.writeMSR(0xc000_0081, value: 0x0018_0008_0000_0000) // STAR: SYSRET base 0x18
            try cpu.setRegisters {
                $0.rcx = SoftCPUFixture.codeAddress + 0x20
                $0.r11 = Self.trapFlag | 2
            }
            // A budget of one instruction: the trap still comes before the vCPU would look for
            // interrupts, as it outranks them (SDM vol. 3, table 6-2).
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 1, errorCode: nil))
            XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 0x20, "before the user's first instruction")
            XCTAssertEqual(try cpu.cpu.systemRegisters().cs.selector, userCS)
            XCTAssertNotEqual(try cpu.cpu.debugRegisters().dr6 & Self.singleStep, 0, "BS")
        }
    }

    /// Under TF a repeated string instruction takes one iteration per step: the trap comes after each,
    /// with RIP at the instruction and the count one lower, and after the last with RIP past it.
    func testRepeatedStringInstructionTrapsAfterEachIteration() throws {
        // rep stosb; rep movsb (DF clear; translated or not, a stepped instruction runs interpreted)
        for (code, name) in [([UInt8]([0xf3, 0xaa, 0x90]), "rep stosb"), ([0xf3, 0xa4, 0x90], "rep movsb")] {
            let cpu = try SoftCPUFixture(.long64, code: code)
            try cpu.setRegisters {
                $0.rflags |= Self.trapFlag
                $0.rcx = 3
                $0.rdi = SoftCPUFixture.dataAddress
                $0.rsi = SoftCPUFixture.dataAddress + 0x100
            }
            var seen: [(rip: UInt64, rcx: UInt64, rdi: UInt64)] = []
            for _ in 0..<3 {
                XCTAssertEqual(try cpu.cpu.step(instructions: 100), .exception(vector: 1, errorCode: nil), name)
                let registers = try cpu.cpu.generalRegisters()
                seen.append((registers.rip - SoftCPUFixture.codeAddress, registers.rcx, registers.rdi - SoftCPUFixture.dataAddress))
                XCTAssertNotEqual(try cpu.cpu.debugRegisters().dr6 & Self.singleStep, 0, "BS")
            }
            XCTAssertEqual(seen.map(\.rip), [0, 0, 2], name)
            XCTAssertEqual(seen.map(\.rcx), [2, 1, 0], name)
            XCTAssertEqual(seen.map(\.rdi), [1, 2, 3], name)
        }
    }

    /// INT1 (ICEBP) raises #DB as a trap, past the instruction, without the DPL check that INT3 gets
    /// (SDM vol. 3, 6.12.1.1): from CPL 3 through DPL 0 gates INT1 reaches the #DB handler and INT3
    /// raises #GP(vector 3, IDT). DR6 is left alone by INT1.
    func testINT1FromCPL3IgnoresTheGateDPLWhichINT3Honours() throws {
        for (opcode, vector, handlerOffset) in [(UInt8(0xf1), UInt8(1), UInt64(0x40)), (0xcc, 3, 0x80)] {
            var code = [opcode] + [UInt8](repeating: 0x90, count: 0x3f)
            code += [UInt8](repeating: 0xf4, count: 0x80) // #DB at 0x40, #GP at 0x80: hlt
            let cpu = try SoftCPUFixture(.long64, code: code)
            try cpu.prepareForSystemCalls(descriptors: [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff, 0x00cf_fb00_0000_ffff,
                                                        0x00cf_f300_0000_ffff, 0x00af_fb00_0000_ffff])
            for (gate, offset) in [(1, UInt64(0x40)), (3, 0x60), (13, 0x80)] { // DPL 0 gates to kernel code 0x08
                let handler = SoftCPUFixture.codeAddress + offset
                try cpu.machine.memory.write((handler & 0xffff) | 0x08 << 16 | 0x8e << 40 | (handler & 0xffff_0000) << 32,
                                             at: 0x30_0000 + UInt64(gate) * 16)
                try cpu.machine.memory.write(UInt64(0), at: 0x30_0008 + UInt64(gate) * 16)
            }
            try cpu.machine.memory.write(UInt64(0x8_0000), at: 4) // RSP0 of the boot TSS (at 0)
            try cpu.setSystemRegisters {
                $0.idt = DescriptorTableRegister(base: 0x30_0000, limit: 0xfff)
                $0.cs = SegmentRegister(selector: 0x2b, base: 0, limit: 0xffff_ffff, type: 0xb, dpl: 3, db: false, long: true,
                                        granularity: true)
                $0.ss = SegmentRegister(selector: 0x23, base: 0, limit: 0xffff_ffff, type: 3, dpl: 3, db: true, granularity: true)
            }
            try cpu.setRegisters { $0.rsp = 0x9_0000 }
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: vector, errorCode: nil))
            XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 1, "a trap")
            try cpu.cpu.injectException(vector: vector, errorCode: nil)
            let registers = try cpu.cpu.generalRegisters()
            XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + handlerOffset, "vector \(vector)")
            XCTAssertEqual(try cpu.cpu.systemRegisters().cs.selector, 0x08)
            let errorCode = try cpu.machine.memory.read(UInt64.self, at: registers.rsp)
            if vector == 3 { XCTAssertEqual(errorCode, 3 << 3 | 2, "#GP names the IDT gate") }
            XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xe00f, 0)
        }
    }

    /// A single step ends after STI: its shadow holds back maskable interrupts only (SDM vol. 3, 6.8.3).
    func testSTIShadowDoesNotHoldBackTheSingleStepTrap() throws {
        // sti; nop; nop -- with TF set and IF clear
        let cpu = try SoftCPUFixture(.long64, code: [0xfb, 0x90, 0x90])
        try cpu.setRegisters { $0.rflags = Self.trapFlag | 2 }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 1, "after STI")
    }

    /// TF set in a loop that ran translated, in 64-bit and in 32-bit code: the next instruction runs
    /// interpreted and traps after itself, whatever the translated block would have run on to.
    func testSingleStepInCodeThatRanTranslated() throws {
        // 1: inc %ecx; add %ecx,%eax; mov %eax,%edx; cmp $0x400,%ecx; jne 1b; hlt
        let code: [UInt8] = [0xff, 0xc1, 0x01, 0xc8, 0x89, 0xc2, 0x81, 0xf9, 0x00, 0x04, 0x00, 0x00, 0x75, 0xf2, 0xf4]
        let next: [UInt64: UInt64] = [0: 2, 2: 4, 4: 6, 6: 12, 12: 0] // the loop's instructions, each to the one after it
        for mode in [SoftCPUFixture.Mode.long64, .protected32] {
            let cpu = try SoftCPUFixture.warmedUp(code, mode: mode)
            let start = try cpu.cpu.generalRegisters().rip - SoftCPUFixture.codeAddress
            try cpu.setRegisters { $0.rflags |= Self.trapFlag }
            XCTAssertEqual(try cpu.cpu.step(instructions: 100), .exception(vector: 1, errorCode: nil), "\(mode)")
            XCTAssertEqual(try cpu.cpu.generalRegisters().rip - SoftCPUFixture.codeAddress, next[start], "\(mode) from \(start)")
        }
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

    /// A 64-bit kernel IRETQs to compatibility-mode user code with TF set; the user does SYSCALL (to
    /// CSTAR, FMASK leaving TF alone), the kernel SYSRETs (32-bit), the user SYSCALLs again with EAX=99
    /// and the kernel halts. Every #DB goes through a 64-bit gate whose handler counts and IRETQs.
    /// TF is set all along here; a SYSRET that sets it is the test above, and sys_privilege64's
    /// FMASK-clears-TF sequence on a running machine (DifferentialSystemGuestTests).
    func testCompatibilityModeSystemCallsSingleStepped() throws {
        var code: [UInt8] = [0x6a, 0x23, 0x68, 0x00, 0x00, 0x09, 0x00, 0x68, 0x02, 0x01, 0x00, 0x00, 0x6a, 0x1b, 0x68, 0x00,
                             0x01, 0x10, 0x00, 0x48, 0xcf] // push $0x23; push $0x90000; push $0x102; push $0x1b; push $user; iretq
        code += [UInt8](repeating: 0, count: 0x80 - code.count)
        code += [0x83, 0xf8, 0x63, 0x75, 0x01, 0xf4, 0x0f, 0x07] // CSTAR: cmp $99,%eax; jne 1f; hlt; 1: sysretl
        code += [UInt8](repeating: 0, count: 0xc0 - code.count)
        code += [0xff, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x48, 0xcf] // #DB: incl 0x200000; iretq
        code += [UInt8](repeating: 0, count: 0x100 - code.count)
        // user (32-bit): push %eax; pop %eax; syscall; push %eax; pop %eax; mov $99,%eax; syscall
        code += [0x50, 0x58, 0x0f, 0x05, 0x50, 0x58, 0xb8, 0x63, 0x00, 0x00, 0x00, 0x0f, 0x05]
        let cpu = try SoftCPUFixture(.long64, code: code)
        // GDT: null, kernel code 0x08, kernel data 0x10, user 32-bit code 0x18, user data 0x20.
        try cpu.prepareForSystemCalls(descriptors: [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff, 0x00cf_fb00_0000_ffff,
                                                    0x00cf_f300_0000_ffff])
        let handler = SoftCPUFixture.codeAddress + 0xc0
        try cpu.machine.memory.write((handler & 0xffff) | 0x08 << 16 | 0x8e << 40 | (handler & 0xffff_0000) << 32, at: 0x30_0010)
        try cpu.machine.memory.write(UInt64(0), at: 0x30_0018)
        try cpu.machine.memory.write(UInt64(0x8_0000), at: 4) // RSP0 of the boot TSS (at 0)
        try cpu.setSystemRegisters { $0.idt = DescriptorTableRegister(base: 0x30_0000, limit: 0xfff) }
        try cpu.cpu.writeMSR(0xc000_0081, value: 0x0018_0008_0000_0000) // STAR: SYSRET base 0x18, SYSCALL CS 0x08
        try cpu.cpu.writeMSR(0xc000_0083, value: SoftCPUFixture.codeAddress + 0x80) // CSTAR
        var trapOffsets: [UInt64] = []
        var outcome = SoftStepOutcome.completed
        for _ in 0..<40 {
            outcome = try cpu.cpu.step(instructions: 1000)
            guard outcome == .exception(vector: 1, errorCode: nil) else { break }
            trapOffsets.append(try cpu.cpu.generalRegisters().rip - SoftCPUFixture.codeAddress)
            try cpu.cpu.injectException(vector: 1, errorCode: nil)
        }
        XCTAssertEqual(outcome, .halted)
        // After each instruction run with TF: user push, pop; SYSCALL (TF kept) traps at CSTAR; cmp,
        // jne (taken); SYSRET traps at the user instruction; push, pop, mov; SYSCALL; cmp, jne; HLT.
        XCTAssertEqual(trapOffsets, [0x101, 0x102, 0x80, 0x83, 0x86, 0x104, 0x105, 0x106, 0x10b, 0x80, 0x83, 0x85])
        XCTAssertEqual(try cpu.machine.memory.read(UInt32.self, at: 0x20_0000), UInt32(trapOffsets.count))
        let system = try cpu.cpu.systemRegisters()
        XCTAssertEqual(system.cs.selector, 0x08)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rsp, 0x9_0000, "SYSCALL keeps the user stack pointer")
    }
}
