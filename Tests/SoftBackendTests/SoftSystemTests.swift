import SoftBackend
import Synchronization
import VMMKit
import XCTest
import KernelLoading

/// Paging, exceptions, interrupts, privilege changes, MSRs, CPUID and the other CPU modes.
final class SoftSystemTests: XCTestCase {
    func testSoftwareInterruptAndIRETQThroughTheIDT() throws {
        // int $0x20; mov $1,%ebx; hlt; .org 8; mov $2,%eax; iretq
        let cpu = try SoftCPUFixture(.long64, code: [0xcd, 0x20, 0xbb, 0x01, 0x00, 0x00, 0x00, 0xf4, 0xb8, 0x02, 0x00,
                                                     0x00, 0x00, 0x48, 0xcf])
        try cpu.writeInterruptGate(vector: 0x20, handler: SoftCPUFixture.codeAddress + 8)
        var registers = try cpu.step(1)
        XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + 8)
        XCTAssertEqual(registers.rsp, BootLayout.standard.stackTop - 40, "SS, RSP, RFLAGS, CS, RIP pushed")
        XCTAssertEqual(try cpu.machine.memory.read(UInt64.self, at: registers.rsp), SoftCPUFixture.codeAddress + 2)
        registers = try cpu.step(3)
        XCTAssertEqual([registers.rax, registers.rbx], [2, 1])
        XCTAssertEqual(registers.rsp, BootLayout.standard.stackTop)
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .halted)
    }

    func testPageFaultErrorCodesAndCR2() throws {
        // mov $0x100000000,%rax; movl $1,(%rax)  -- beyond the identity map: not present, write
        let cpu = try SoftCPUFixture(.long64, code: [0x48, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xc7,
                                                     0x00, 0x01, 0x00, 0x00, 0x00])
        try cpu.step(1)
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 14, errorCode: 2))
        XCTAssertEqual(try cpu.cpu.systemRegisters().cr2, 0x1_0000_0000)

        // movl $1,0x400000 with the 2 MiB page at 4 MiB read-only and CR0.WP set: present + write.
        let readOnly = try SoftCPUFixture(.long64, code: [0xc7, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00])
        let entry = BootLayout.standard.pageTables + 0x2000 + 2 * 8
        try readOnly.machine.memory.write(try readOnly.machine.memory.read(UInt64.self, at: entry) & ~2, at: entry)
        XCTAssertEqual(try readOnly.cpu.step(instructions: 1), .exception(vector: 14, errorCode: 3))
        XCTAssertEqual(try readOnly.cpu.systemRegisters().cr2, 0x40_0000)
    }

    func testAccessedAndDirtyBitsAreSet() throws {
        let cpu = try SoftCPUFixture(.long64, code: [0xc7, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x01, 0x00, 0x00, 0x00])
        let entry = BootLayout.standard.pageTables + 0x2000 + 2 * 8
        try cpu.step(1)
        XCTAssertEqual(try cpu.machine.memory.read(UInt64.self, at: entry) & 0x60, 0x60)
    }

    func testUserModeSystemCallAndReturn() throws {
        // kernel: push SS/RSP/RFLAGS/CS/RIP for user mode; iretq
        var code: [UInt8] = [0x6a, 0x1b, 0x68, 0x00, 0x00, 0x09, 0x00, 0x6a, 0x02, 0x6a, 0x23, 0x68, 0x00, 0x01, 0x10,
                             0x00, 0x48, 0xcf]
        code += [UInt8](repeating: 0, count: 0x80 - code.count)
        code += [0x49, 0x89, 0xcc, 0x41, 0x8c, 0xcd, 0x48, 0x0f, 0x07] // mov %rcx,%r12; mov %cs,%r13; sysretq
        code += [UInt8](repeating: 0, count: 0x100 - code.count)
        code += [0xb8, 0x05, 0x00, 0x00, 0x00, 0x0f, 0x05, 0x90, 0xf4] // user: mov $5,%eax; syscall; nop; hlt
        let cpu = try SoftCPUFixture(.long64, code: code)
        // GDT: null, kernel code 0x08, kernel data 0x10, user data 0x18, user code 0x20 (the SYSRET layout).
        try cpu.prepareForSystemCalls(descriptors: [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff, 0x00cf_f300_0000_ffff,
                                                    0x00af_fb00_0000_ffff])
        try cpu.cpu.writeMSR(0xc000_0081, value: 0x0010_0008_0000_0000) // STAR: SYSRET base 0x10, SYSCALL CS 0x08
        try cpu.cpu.writeMSR(0xc000_0082, value: SoftCPUFixture.codeAddress + 0x80) // LSTAR
        XCTAssertEqual(try cpu.cpu.step(instructions: 20), .exception(vector: 13, errorCode: 0), "HLT at CPL 3")
        let registers = try cpu.cpu.generalRegisters()
        XCTAssertEqual(registers.r12, SoftCPUFixture.codeAddress + 0x107, "RCX = the instruction after SYSCALL")
        XCTAssertEqual(registers.r13, 0x08)
        XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + 0x108)
        XCTAssertEqual(registers.rsp, 0x9_0000)
        let system = try cpu.cpu.systemRegisters()
        XCTAssertEqual(system.cs.selector, 0x23)
        XCTAssertEqual(system.ss.selector, 0x1b)
    }

    /// A 64-bit user INTs to the kernel (which leaves SS null, SDM vol. 3, 6.14.4) and the kernel
    /// SYSRETLs to compatibility mode: SS is the flat 32-bit descriptor SYSRET defines, so the user's
    /// PUSH moves ESP by 4 in 32 bits, not a 16-bit SP with the null SS's cache.
    func testSYSRETAfterAnInterruptGivesCompatibilityModeAFlatStack() throws {
        // kernel: push SS/RSP/RFLAGS/CS/RIP of the 64-bit user; iretq
        var code: [UInt8] = [0x6a, 0x23, 0x68, 0x00, 0x00, 0x09, 0x00, 0x6a, 0x02, 0x6a, 0x2b, 0x68, 0x00, 0x01, 0x10,
                             0x00, 0x48, 0xcf]
        code += [UInt8](repeating: 0, count: 0x80 - code.count)
        // INT 0x80 handler: mov $user32,%ecx; mov $2,%r11d; mov $0x90000,%esp; sysretl
        code += [0xb9, 0x40, 0x01, 0x10, 0x00, 0x41, 0xbb, 0x02, 0x00, 0x00, 0x00, 0xbc, 0x00, 0x00, 0x09, 0x00, 0x0f, 0x07]
        code += [UInt8](repeating: 0, count: 0x100 - code.count)
        code += [0xcd, 0x80] // user (64-bit): int $0x80
        code += [UInt8](repeating: 0, count: 0x140 - code.count)
        code += [0x50, 0xf4] // user (32-bit): push %eax; hlt
        let cpu = try SoftCPUFixture(.long64, code: code)
        // GDT: null, kernel code 0x08, kernel data 0x10, user 32-bit code 0x18, user data 0x20, user 64-bit code 0x28.
        try cpu.prepareForSystemCalls(descriptors: [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff, 0x00cf_fb00_0000_ffff,
                                                    0x00cf_f300_0000_ffff, 0x00af_fb00_0000_ffff])
        try cpu.cpu.writeMSR(0xc000_0081, value: 0x0018_0008_0000_0000) // STAR: SYSRET base 0x18
        let handler = SoftCPUFixture.codeAddress + 0x80 // a DPL 3 interrupt gate for vector 0x80
        try cpu.machine.memory.write((handler & 0xffff) | 0x08 << 16 | 0xee << 40 | (handler & 0xffff_0000) << 32, at: 0x30_0800)
        try cpu.machine.memory.write(UInt64(0), at: 0x30_0808)
        try cpu.machine.memory.write(UInt64(0x8_0000), at: 4) // RSP0 of the boot TSS (at 0)
        try cpu.setSystemRegisters { $0.idt = DescriptorTableRegister(base: 0x30_0000, limit: 0xfff) }
        XCTAssertEqual(try cpu.cpu.step(instructions: 20), .exception(vector: 13, errorCode: 0), "HLT at CPL 3")
        let registers = try cpu.cpu.generalRegisters()
        XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + 0x141)
        XCTAssertEqual(registers.rsp, 0x8_fffc)
        let ss = try cpu.cpu.systemRegisters().ss
        XCTAssertEqual(ss.selector, 0x23)
        XCTAssertTrue(ss.db && !ss.unusable && ss.limit == 0xffff_ffff && ss.base == 0 && ss.dpl == 3, "\(ss)")
    }

    /// One vector pending from the start; counts acknowledgements.
    final class OneShotController: InterruptSource, @unchecked Sendable {
        let pending = Mutex<UInt8?>(0x30)
        func hasPendingInterrupt(vcpu: Int) -> Bool { pending.withLock { $0 != nil } }
        func acknowledgeInterrupt(vcpu: Int) -> UInt8? { pending.withLock { vector in defer { vector = nil }; return vector } }
        func takeNonMaskableInterrupt(vcpu: Int) -> Bool { false }
        func taskPriority(vcpu: Int) -> UInt8 { 0 }
        func setTaskPriority(vcpu: Int, _ value: UInt8) {}
        func takeStartupSignal(vcpu: Int) -> StartupSignal? { nil }
    }

    func testExternalInterruptWaitsForTheSTIShadow() throws {
        // sti; nop; nop; hlt; .org 0x10; mov $0x77,%ebx; hlt
        let code: [UInt8] = [0xfb, 0x90, 0x90, 0xf4] + [UInt8](repeating: 0, count: 12) + [0xbb, 0x77, 0x00, 0x00, 0x00, 0xf4]
        let cpu = try SoftCPUFixture(.long64, code: code)
        cpu.machine.interruptSource = OneShotController()
        try cpu.writeInterruptGate(vector: 0x30, handler: SoftCPUFixture.codeAddress + 0x10)
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .halted)
        let registers = try cpu.cpu.generalRegisters()
        XCTAssertEqual(registers.rbx, 0x77)
        XCTAssertEqual(try cpu.machine.memory.read(UInt64.self, at: registers.rsp), SoftCPUFixture.codeAddress + 2,
                       "delivered after exactly one instruction following STI")
        XCTAssertEqual(cpu.cpu.statistics.interruptsInjected.value, 1)
    }

    func testRealModeSegmentsAndInterruptVectorTable() throws {
        // mov $0x1234,%ax; mov %ax,%ds; mov $0x10,%bx; movw $0xbeef,(%bx); int $0x10; hlt
        let cpu = try SoftCPUFixture(.real16, code: [0xb8, 0x34, 0x12, 0x8e, 0xd8, 0xbb, 0x10, 0x00, 0xc7, 0x07, 0xef,
                                                     0xbe, 0xcd, 0x10, 0xf4])
        try cpu.machine.memory.write(UInt32(0x0000_8000), at: 0x10 * 4) // INT 10h -> 0000:8000
        try cpu.machine.memory.write([0xf4], at: 0x8000)
        let registers = try cpu.step(5)
        XCTAssertEqual(try cpu.machine.memory.read(UInt16.self, at: 0x12350), 0xbeef)
        XCTAssertEqual(registers.rip, 0x8000)
        XCTAssertEqual(registers.rsp, 0x7000 - 6)
        XCTAssertEqual(try cpu.machine.memory.read(UInt16.self, at: 0x7000 - 6), 0x7c0e, "return IP")
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .halted)
    }

    func testProtectedMode32OperandSizes() throws {
        // mov $0x12345678,%eax; push %eax; pop %bx; pop %cx; movzbl %ah,%edx; lea 4(%eax,%edx,2),%esi
        let cpu = try SoftCPUFixture(.protected32, code: [0xb8, 0x78, 0x56, 0x34, 0x12, 0x50, 0x66, 0x5b, 0x66, 0x59,
                                                          0x0f, 0xb6, 0xd4, 0x8d, 0x74, 0x50, 0x04])
        let registers = try cpu.step(6)
        XCTAssertEqual(registers.rbx, 0x5678)
        XCTAssertEqual(registers.rcx, 0x1234)
        XCTAssertEqual(registers.rdx, 0x56)
        XCTAssertEqual(registers.rsi, 0x1234_5728)
        XCTAssertEqual(registers.rsp, BootLayout.standard.stackTop)
    }

    func testCPUIDVendorAndMSRs() throws {
        let cpuid = try SoftCPUFixture(.long64, code: [0x31, 0xc0, 0x0f, 0xa2]) // xor %eax,%eax; cpuid
        let leaf0 = try cpuid.step(2)
        let vendor = [leaf0.rbx, leaf0.rdx, leaf0.rcx].flatMap { word in (0..<4).map { UInt8((word >> ($0 * 8)) & 0xff) } }
        XCTAssertEqual(String(decoding: vendor, as: UTF8.self), CPUIDModel.softCPU.vendor)
        XCTAssertEqual(cpuid.cpu.statistics.cpuid.value, 1)

        // wrmsr FS_BASE = 0x200000; mov %fs:0x10,%rbx; rdmsr EFER
        let msrs = try SoftCPUFixture(.long64, code: [0xb9, 0x00, 0x01, 0x00, 0xc0, 0xb8, 0x00, 0x00, 0x20, 0x00, 0x31,
                                                      0xd2, 0x0f, 0x30, 0x64, 0x48, 0x8b, 0x1c, 0x25, 0x10, 0x00, 0x00,
                                                      0x00, 0xb9, 0x80, 0x00, 0x00, 0xc0, 0x0f, 0x32])
        try msrs.machine.memory.write(UInt64(0xfeed_f00d), at: 0x20_0010)
        let registers = try msrs.step(7)
        XCTAssertEqual(registers.rbx, 0xfeed_f00d)
        XCTAssertEqual(registers.rax, ControlBits.eferLME | ControlBits.eferLMA | ControlBits.eferNXE)
        XCTAssertEqual(msrs.cpu.statistics.msr.value, 2)
    }

    func testSSEIntegerOperations() throws {
        // mov $0x200000,%rdi; pxor %xmm0,%xmm0; movdqa (%rdi),%xmm1; paddd %xmm1,%xmm1; pcmpeqb %xmm0,%xmm1;
        // pmovmskb %xmm1,%eax; movq %rax,%xmm2; pshufd $0,%xmm2,%xmm3; movdqu %xmm3,16(%rdi);
        // punpcklbw %xmm1,%xmm0; psrldq $2,%xmm3
        let code: [UInt8] = [0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00, 0x66, 0x0f, 0xef, 0xc0, 0x66, 0x0f, 0x6f, 0x0f,
                             0x66, 0x0f, 0xfe, 0xc9, 0x66, 0x0f, 0x74, 0xc8, 0x66, 0x0f, 0xd7, 0xc1, 0x66, 0x48, 0x0f,
                             0x6e, 0xd0, 0x66, 0x0f, 0x70, 0xda, 0x00, 0xf3, 0x0f, 0x7f, 0x5f, 0x10, 0x66, 0x0f, 0x60,
                             0xc1, 0x66, 0x0f, 0x73, 0xdb, 0x02]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
        for (index, value) in [UInt32(1), 2, 3, 0x8000_0000].enumerated() {
            try cpu.machine.memory.write(value, at: 0x20_0000 + UInt64(index) * 4)
        }
        let registers = try cpu.step(11)
        XCTAssertEqual(registers.rax, 0xfeee)
        XCTAssertTrue(cpu.cpu.xmm(1) == (0xffff_ff00_ffff_ff00, 0xffff_ffff_ffff_ff00))
        XCTAssertEqual(try cpu.machine.memory.read(UInt64.self, at: 0x20_0010), 0x0000_feee_0000_feee)
        XCTAssertTrue(cpu.cpu.xmm(0) == (0xff00_ff00_ff00_0000, 0xff00_ff00_ff00_0000))
        XCTAssertTrue(cpu.cpu.xmm(3) == (0xfeee_0000_feee_0000, 0x0000_0000_feee_0000))
    }

    func testScalarFloatingPointArithmeticCompareAndConversions() throws {
        // mov $7,%eax; cvtsi2sd %eax,%xmm0; mov $3,%rcx; cvtsi2sd %rcx,%xmm1; divsd %xmm1,%xmm0;
        // mulsd %xmm1,%xmm0; sqrtsd %xmm0,%xmm2; ucomisd %xmm1,%xmm2; cvttsd2si %xmm2,%ebx;
        // cvtsd2ss %xmm0,%xmm3; addss %xmm3,%xmm3; cvtss2sd %xmm3,%xmm4; cvtsd2si %xmm4,%rdx
        let code: [UInt8] = [0xb8, 0x07, 0x00, 0x00, 0x00, 0xf2, 0x0f, 0x2a, 0xc0, 0x48, 0xc7, 0xc1, 0x03, 0x00, 0x00,
                             0x00, 0xf2, 0x48, 0x0f, 0x2a, 0xc9, 0xf2, 0x0f, 0x5e, 0xc1, 0xf2, 0x0f, 0x59, 0xc1, 0xf2,
                             0x0f, 0x51, 0xd0, 0x66, 0x0f, 0x2e, 0xd1, 0xf2, 0x0f, 0x2c, 0xda, 0xf2, 0x0f, 0x5a, 0xd8,
                             0xf3, 0x0f, 0x58, 0xdb, 0xf3, 0x0f, 0x5a, 0xe3, 0xf2, 0x48, 0x0f, 0x2d, 0xd4]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
        var registers = try cpu.step(8)
        XCTAssertEqual(cpu.cpu.xmm(0).low, (7.0).bitPattern)
        XCTAssertEqual(cpu.cpu.xmm(2).low, (7.0).squareRoot().bitPattern)
        XCTAssertEqual(try cpu.arithmeticFlags(), SoftFlag.cf, "sqrt(7) < 3: CF only")
        registers = try cpu.step(5)
        XCTAssertEqual(registers.rbx, 2)
        XCTAssertEqual(registers.rdx, 14)
    }

    func testSSEWithoutOSFXSRIsInvalid() throws {
        let cpu = try SoftCPUFixture(.long64, code: [0x66, 0x0f, 0xef, 0xc0]) // pxor %xmm0,%xmm0
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 6, errorCode: nil))
    }

    func testCR3CacheKeepsTranslationsOfRecentAddressSpaces() throws {
        // Switch CR3 between two identity maps four times, reading the same data each time.
        let code: [UInt8] = [0x48, 0xc7, 0xc0, 0x00, 0x90, 0x00, 0x00, 0x48, 0xc7, 0xc3, 0x00, 0x00, 0x03, 0x00, 0x0f,
                             0x22, 0xdb, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00, 0x0f, 0x22, 0xd8, 0x8b, 0x0c, 0x25,
                             0x00, 0x00, 0x20, 0x00, 0x0f, 0x22, 0xdb, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00, 0x0f,
                             0x22, 0xd8, 0x8b, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00, 0xf4]
        func refills(cacheEnabled: Bool) throws -> UInt64 {
            let cpu = try SoftCPUFixture(.long64, code: code)
            let pml4 = try cpu.machine.memory.read(UInt64.self, at: BootLayout.standard.pageTables)
            try cpu.machine.memory.write(pml4, at: 0x3_0000) // a second PML4 sharing the same lower levels
            cpu.cpu.cr3CacheEnabled = cacheEnabled
            XCTAssertEqual(try cpu.cpu.step(instructions: 20), .halted)
            return cpu.cpu.tlbRefills
        }
        let cached = try refills(cacheEnabled: true), uncached = try refills(cacheEnabled: false)
        XCTAssertLessThan(cached, uncached, "switching back to a cached address space needs no page walk")
    }

    /// A page-table write under the active address space takes effect at the next MOV to CR3, even
    /// one that reloads the same value (how Linux makes a fork's write-protection take effect), with
    /// the CR3 cache on or off.
    func testReloadingCR3AfterAPageTableWriteDropsTheOldTranslation() throws {
        // mov ecx,[0x200000]; mov qword [0xb008],0x400083 (the 2 MiB page at 0x200000 now maps
        // physical 0x400000); mov rax,cr3; mov cr3,rax; mov edx,[0x200000]; hlt
        let code: [UInt8] = [0x8b, 0x0c, 0x25, 0x00, 0x00, 0x20, 0x00,
                             0x48, 0xc7, 0x04, 0x25, 0x08, 0xb0, 0x00, 0x00, 0x83, 0x00, 0x40, 0x00,
                             0x0f, 0x20, 0xd8, 0x0f, 0x22, 0xd8,
                             0x8b, 0x14, 0x25, 0x00, 0x00, 0x20, 0x00, 0xf4]
        XCTAssertEqual(BootLayout.standard.pageTables + 0x2000 + 8, 0xb008, "the first page directory's second entry")
        for cacheEnabled in [true, false] {
            let cpu = try SoftCPUFixture(.long64, code: code)
            cpu.cpu.cr3CacheEnabled = cacheEnabled
            try cpu.machine.memory.write(UInt32(0x1111_1111), at: 0x20_0000)
            try cpu.machine.memory.write(UInt32(0x2222_2222), at: 0x40_0000)
            XCTAssertEqual(try cpu.cpu.step(instructions: 10), .halted)
            let registers = try cpu.cpu.generalRegisters()
            XCTAssertEqual(registers.rcx, 0x1111_1111, "cache \(cacheEnabled): before the page-table write")
            XCTAssertEqual(registers.rdx, 0x2222_2222, "cache \(cacheEnabled): after it and the CR3 reload")
        }
    }

    /// FILD m32int and EMMS, which Linux runs before restoring FPU state on AMD processors: the
    /// integer is pushed as an exact 80-bit real (TOP 7, ST0 tagged valid), and EMMS empties the tags.
    func testIntegerLoadAndEMMSAsFXSAVESeesThem() throws {
        // fninit; mov dword [0x200000],-5; fild dword [0x200000]; fxsave [0x201000]; emms;
        // fxsave [0x202000]; hlt
        let code: [UInt8] = [0xdb, 0xe3, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0xfb, 0xff, 0xff, 0xff,
                             0xdb, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x0f, 0xae, 0x04, 0x25, 0x00, 0x10, 0x20, 0x00,
                             0x0f, 0x77, 0x0f, 0xae, 0x04, 0x25, 0x00, 0x20, 0x20, 0x00, 0xf4]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .halted)
        let memory = cpu.machine.memory
        XCTAssertEqual(try memory.read(UInt16.self, at: 0x20_1002) & 0x3800, 7 << 11, "TOP = 7 after one push")
        XCTAssertEqual(try memory.read(UInt8.self, at: 0x20_1004), 0x80, "physical register 7 valid")
        XCTAssertEqual(try memory.read(UInt64.self, at: 0x20_1020), 0xa000_0000_0000_0000, "5 = 1.01b x 2^2")
        XCTAssertEqual(try memory.read(UInt16.self, at: 0x20_1028), 0xc001, "negative, biased exponent 16385")
        XCTAssertEqual(try memory.read(UInt8.self, at: 0x20_2004), 0, "EMMS empties every tag")
    }
}
