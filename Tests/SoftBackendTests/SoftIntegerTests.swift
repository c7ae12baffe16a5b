import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// Integer instruction groups in 64-bit mode, stepped one instruction at a time. The byte arrays were
/// assembled with GNU as from the listing in each comment.
final class SoftIntegerTests: XCTestCase {
    func testAddSubFlagsAfterEachInstruction() throws {
        // mov $0x7fffffff,%eax; add $1,%eax; sub $1,%eax; xor %ecx,%ecx; dec %ecx; adc $0,%rcx
        let cpu = try SoftCPUFixture(.long64, code: [0xb8, 0xff, 0xff, 0xff, 0x7f, 0x83, 0xc0, 0x01, 0x83, 0xe8, 0x01,
                                                     0x31, 0xc9, 0xff, 0xc9, 0x48, 0x83, 0xd1, 0x00])
        var registers = try cpu.step(2)
        XCTAssertEqual(registers.rax, 0x8000_0000)
        XCTAssertEqual(try cpu.arithmeticFlags(), SoftFlag.of | SoftFlag.sf | SoftFlag.af | SoftFlag.pf)
        registers = try cpu.step(1)
        XCTAssertEqual(registers.rax, 0x7fff_ffff)
        XCTAssertEqual(try cpu.arithmeticFlags(), SoftFlag.of | SoftFlag.af | SoftFlag.pf)
        registers = try cpu.step(2) // xor; dec keeps CF (0)
        XCTAssertEqual(registers.rcx, 0xffff_ffff)
        XCTAssertEqual(try cpu.arithmeticFlags(), SoftFlag.sf | SoftFlag.af | SoftFlag.pf)
        registers = try cpu.step(1) // adc $0 with CF=0
        XCTAssertEqual(registers.rcx, 0xffff_ffff)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.cf, 0)
    }

    func testShiftsAndRotatesIncludingThroughCarry() throws {
        // mov $0x81,%al; shl $1,%al; rcl $1,%al; mov $0x80000001,%ebx; ror $1,%ebx; sar $4,%ebx;
        // mov $3,%cl; shr %cl,%ebx; stc; rcr $1,%dx
        let cpu = try SoftCPUFixture(.long64, code: [0xb0, 0x81, 0xd0, 0xe0, 0xd0, 0xd0, 0xbb, 0x01, 0x00, 0x00, 0x80,
                                                     0xd1, 0xcb, 0xc1, 0xfb, 0x04, 0xb1, 0x03, 0xd3, 0xeb, 0xf9, 0x66,
                                                     0xd1, 0xda])
        var registers = try cpu.step(2)
        XCTAssertEqual(registers.rax & 0xff, 0x02)
        XCTAssertEqual(try cpu.arithmeticFlags() & (SoftFlag.cf | SoftFlag.of), SoftFlag.cf | SoftFlag.of)
        registers = try cpu.step(1)
        XCTAssertEqual(registers.rax & 0xff, 0x05)
        XCTAssertEqual(try cpu.arithmeticFlags() & (SoftFlag.cf | SoftFlag.of), 0)
        registers = try cpu.step(2)
        XCTAssertEqual(registers.rbx, 0xc000_0000)
        XCTAssertEqual(try cpu.arithmeticFlags() & (SoftFlag.cf | SoftFlag.of), SoftFlag.cf)
        registers = try cpu.step(1)
        XCTAssertEqual(registers.rbx, 0xfc00_0000)
        registers = try cpu.step(2)
        XCTAssertEqual(registers.rbx, 0x1f80_0000)
        XCTAssertEqual(try cpu.arithmeticFlags() & (SoftFlag.cf | SoftFlag.of | SoftFlag.af), SoftFlag.af,
                       "SHR by more than 1 clears OF and sets AF, as AMD processors do")
        registers = try cpu.step(2)
        XCTAssertEqual(registers.rdx & 0xffff, 0x8000)
        XCTAssertEqual(try cpu.arithmeticFlags() & (SoftFlag.cf | SoftFlag.of), SoftFlag.of)
    }

    func testMultiplyDivideAndDivideError() throws {
        // mov $-7,%rax; mov $3,%rcx; cqo; idiv %rcx; mov $-1,%rax; mul %rax; imul $-3,%rcx,%rbx;
        // xor %ecx,%ecx; div %rcx
        let code: [UInt8] = [0x48, 0xc7, 0xc0, 0xf9, 0xff, 0xff, 0xff, 0x48, 0xc7, 0xc1, 0x03, 0x00, 0x00, 0x00, 0x48,
                             0x99, 0x48, 0xf7, 0xf9, 0x48, 0xc7, 0xc0, 0xff, 0xff, 0xff, 0xff, 0x48, 0xf7, 0xe0, 0x48,
                             0x6b, 0xd9, 0xfd, 0x31, 0xc9, 0x48, 0xf7, 0xf1]
        let cpu = try SoftCPUFixture(.long64, code: code)
        var registers = try cpu.step(4)
        XCTAssertEqual(Int64(bitPattern: registers.rax), -2)
        XCTAssertEqual(Int64(bitPattern: registers.rdx), -1)
        registers = try cpu.step(2)
        XCTAssertEqual(registers.rax, 1)
        XCTAssertEqual(registers.rdx, 0xffff_ffff_ffff_fffe)
        XCTAssertEqual(try cpu.arithmeticFlags() & (SoftFlag.cf | SoftFlag.of), SoftFlag.cf | SoftFlag.of)
        registers = try cpu.step(1)
        XCTAssertEqual(Int64(bitPattern: registers.rbx), -9)
        try cpu.step(1)
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 0, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 35, "#DE leaves RIP on the DIV")
    }

    func testRepeatedStringInstructions() throws {
        // mov $0x200000,%rsi; mov $0x200100,%rdi; mov $5,%rcx; cld; rep movsb; mov $0x200200,%rdi;
        // mov $0x1122334455667788,%rax; mov $3,%ecx; rep stosq; mov $0x200000,%rdi; mov $'c',%al;
        // mov $16,%ecx; repne scasb
        let code: [UInt8] = [0x48, 0xc7, 0xc6, 0x00, 0x00, 0x20, 0x00, 0x48, 0xc7, 0xc7, 0x00, 0x01, 0x20, 0x00, 0x48,
                             0xc7, 0xc1, 0x05, 0x00, 0x00, 0x00, 0xfc, 0xf3, 0xa4, 0x48, 0xc7, 0xc7, 0x00, 0x02, 0x20,
                             0x00, 0x48, 0xb8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0xb9, 0x03, 0x00, 0x00,
                             0x00, 0xf3, 0x48, 0xab, 0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00, 0xb0, 0x63, 0xb9, 0x10,
                             0x00, 0x00, 0x00, 0xf2, 0xae]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.machine.memory.write(Array("abcdefghijklmnop".utf8), at: SoftCPUFixture.dataAddress)
        var registers = try cpu.step(5)
        XCTAssertEqual(try cpu.machine.memory.readBytes(at: 0x20_0100, count: 5), Array("abcde".utf8))
        XCTAssertEqual(registers.rsi, 0x20_0005)
        XCTAssertEqual(registers.rdi, 0x20_0105)
        XCTAssertEqual(registers.rcx, 0)
        registers = try cpu.step(4)
        for index in 0..<3 {
            XCTAssertEqual(try cpu.machine.memory.read(UInt64.self, at: 0x20_0200 + UInt64(index) * 8), 0x1122_3344_5566_7788)
        }
        XCTAssertEqual(registers.rdi, 0x20_0218)
        registers = try cpu.step(4)
        XCTAssertEqual(registers.rcx, 13)
        XCTAssertEqual(registers.rdi, 0x20_0003)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.zf, SoftFlag.zf)
    }

    func testBitScansCountsAndBitTests() throws {
        // mov $0xf0,%eax; bsf %eax,%ebx; bsr %eax,%ecx; tzcnt %eax,%edx; lzcnt %eax,%esi; popcnt %eax,%edi;
        // bts $1,%eax; btr $4,%eax; bt $5,%eax; xor %r8d,%r8d; bsf %r8,%r9
        let code: [UInt8] = [0xb8, 0xf0, 0x00, 0x00, 0x00, 0x0f, 0xbc, 0xd8, 0x0f, 0xbd, 0xc8, 0xf3, 0x0f, 0xbc, 0xd0,
                             0xf3, 0x0f, 0xbd, 0xf0, 0xf3, 0x0f, 0xb8, 0xf8, 0x0f, 0xba, 0xe8, 0x01, 0x0f, 0xba, 0xf0,
                             0x04, 0x0f, 0xba, 0xe0, 0x05, 0x45, 0x31, 0xc0, 0x4d, 0x0f, 0xbc, 0xc8]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.setRegisters { $0.r9 = 0x55 }
        var registers = try cpu.step(6)
        XCTAssertEqual([registers.rbx, registers.rcx, registers.rdx, registers.rsi, registers.rdi], [4, 7, 4, 24, 4])
        registers = try cpu.step(2)
        XCTAssertEqual(registers.rax, 0xe2)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.cf, SoftFlag.cf)
        try cpu.step(1)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.cf, SoftFlag.cf)
        registers = try cpu.step(2)
        XCTAssertEqual(registers.r9, 0x55, "BSF of zero leaves the destination unchanged")
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.zf, SoftFlag.zf)
    }

    func testCompareExchangeExchangeAdd() throws {
        // mov $0x200000,%rdi; movq $10,(%rdi); mov $10,%eax; mov $20,%ecx; lock cmpxchg %rcx,(%rdi);
        // mov $5,%edx; lock xadd %rdx,(%rdi); xchg %rdx,(%rdi); mov $99,%eax; cmpxchg %rcx,(%rdi)
        let code: [UInt8] = [0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00, 0x48, 0xc7, 0x07, 0x0a, 0x00, 0x00, 0x00, 0xb8,
                             0x0a, 0x00, 0x00, 0x00, 0xb9, 0x14, 0x00, 0x00, 0x00, 0xf0, 0x48, 0x0f, 0xb1, 0x0f, 0xba,
                             0x05, 0x00, 0x00, 0x00, 0xf0, 0x48, 0x0f, 0xc1, 0x17, 0x48, 0x87, 0x17, 0xb8, 0x63, 0x00,
                             0x00, 0x00, 0x48, 0x0f, 0xb1, 0x0f]
        let cpu = try SoftCPUFixture(.long64, code: code)
        let memory = cpu.machine.memory
        try cpu.step(5)
        XCTAssertEqual(try memory.read(UInt64.self, at: 0x20_0000), 20)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.zf, SoftFlag.zf)
        var registers = try cpu.step(2)
        XCTAssertEqual(try memory.read(UInt64.self, at: 0x20_0000), 25)
        XCTAssertEqual(registers.rdx, 20)
        registers = try cpu.step(1)
        XCTAssertEqual(try memory.read(UInt64.self, at: 0x20_0000), 20)
        XCTAssertEqual(registers.rdx, 25)
        registers = try cpu.step(2)
        XCTAssertEqual(registers.rax, 20)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.zf, 0)
    }

    func testCompareExchange16Bytes() throws {
        // mov $0x200000,%rdi; xor %eax,%eax; xor %edx,%edx; mov $1,%ebx; mov $2,%ecx;
        // lock cmpxchg16b (%rdi); cmpxchg16b (%rdi)
        let code: [UInt8] = [0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00, 0x31, 0xc0, 0x31, 0xd2, 0xbb, 0x01, 0x00, 0x00,
                             0x00, 0xb9, 0x02, 0x00, 0x00, 0x00, 0xf0, 0x48, 0x0f, 0xc7, 0x0f, 0x48, 0x0f, 0xc7, 0x0f]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.step(6)
        XCTAssertEqual(try cpu.machine.memory.read(UInt64.self, at: 0x20_0000), 1)
        XCTAssertEqual(try cpu.machine.memory.read(UInt64.self, at: 0x20_0008), 2)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.zf, SoftFlag.zf)
        let registers = try cpu.step(1)
        XCTAssertEqual([registers.rax, registers.rdx], [1, 2])
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.zf, 0)
    }

    func testLoopCallAndReturn() throws {
        // xor %eax,%eax; mov $10,%ecx; 1: add %ecx,%eax; loop 1b; call 2f; jmp 3f; 2: inc %eax; ret; 3: nop
        let code: [UInt8] = [0x31, 0xc0, 0xb9, 0x0a, 0x00, 0x00, 0x00, 0x01, 0xc8, 0xe2, 0xfc, 0xe8, 0x02, 0x00, 0x00,
                             0x00, 0xeb, 0x03, 0xff, 0xc0, 0xc3, 0x90]
        let cpu = try SoftCPUFixture(.long64, code: code)
        let registers = try cpu.step(27)
        XCTAssertEqual(registers.rax, 56)
        XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + UInt64(code.count))
        XCTAssertEqual(registers.rsp, BootLayout.standard.stackTop)
        XCTAssertEqual(cpu.cpu.instructionsRetired, 27)
    }

    func testSelfModifyingCodeIsSeen() throws {
        // mov $0x100020,%rdi; call *%rdi; mov %al,%bl; movb $0x42,1(%rdi); call *%rdi; hlt;
        // .org 0x20; mov $7,%al; ret
        let code: [UInt8] = [0x48, 0xc7, 0xc7, 0x20, 0x00, 0x10, 0x00, 0xff, 0xd7, 0x88, 0xc3, 0xc6, 0x47, 0x01, 0x42,
                             0xff, 0xd7, 0xf4] + [UInt8](repeating: 0, count: 14) + [0xb0, 0x07, 0xc3]
        let cpu = try SoftCPUFixture(.long64, code: code)
        XCTAssertEqual(try cpu.cpu.step(instructions: 100), .halted)
        let registers = try cpu.cpu.generalRegisters()
        XCTAssertEqual(registers.rbx & 0xff, 7)
        XCTAssertEqual(registers.rax & 0xff, 0x42)
    }

    func testUnimplementedOpcodeRaisesInvalidOpcode() throws {
        let cpu = try SoftCPUFixture(.long64, code: [0x0f, 0x37]) // GETSEC
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 6, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress)
    }
}
