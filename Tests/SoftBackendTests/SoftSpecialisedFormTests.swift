import SoftBackend
import VMMKit
import XCTest

/// The dedicated handlers chosen at decode time for the hottest forms (fixed ALU kind, 4/8-byte
/// registers, MOVZX by source size) and the in-place re-run of a looping block must behave exactly
/// like the generic ones. Byte arrays assembled with GNU as from the listing in each comment.
final class SoftSpecialisedFormTests: XCTestCase {
    func testWideFormsZeroExtendAndByteRegistersStillWork() throws {
        // mov $0x11223344,%ebx; movzbl %bh,%ecx; movzwl %bx,%edi; xor %eax,%edx; add $-2,%rsi; hlt
        let cpu = try SoftCPUFixture(.long64, code: [0xbb, 0x44, 0x33, 0x22, 0x11, 0x0f, 0xb6, 0xcf, 0x0f, 0xb7, 0xfb,
                                                     0x31, 0xc2, 0x48, 0x83, 0xc6, 0xfe, 0xf4])
        try cpu.setRegisters {
            $0.rax = 3
            $0.rcx = UInt64.max
            $0.rdx = 0xffff_ffff_0000_0005
            $0.rsi = 1
        }
        let registers = try cpu.step(5)
        XCTAssertEqual(registers.rcx, 0x33, "MOVZX from BH, upper bits cleared")
        XCTAssertEqual(registers.rdi, 0x3344)
        XCTAssertEqual(registers.rdx, 6, "a 32-bit XOR zero-extends into the whole register")
        XCTAssertEqual(registers.rsi, UInt64.max)
        XCTAssertEqual(try cpu.arithmeticFlags(), SoftFlag.sf | SoftFlag.pf, "1 + (-2): no carry, negative, even parity")
    }

    func testFaultOnALaterPassOfALoopCountsEveryEarlierPass() throws {
        // mov $0x200000,%eax; 1: mov (%rax),%rax; test %rax,%rax; jne 1b; hlt
        // A linked list of three nodes whose last link leads into an unmapped 512 GiB region.
        let cpu = try SoftCPUFixture(.long64, code: [0xb8, 0x00, 0x00, 0x20, 0x00, 0x48, 0x8b, 0x00, 0x48, 0x85, 0xc0,
                                                     0x75, 0xf8, 0xf4])
        let links: [UInt64] = [0x20_0010, 0, 0x20_0020, 0, 1 << 40]
        try cpu.machine.memory.write(links.flatMap { link in (0..<8).map { UInt8(truncatingIfNeeded: link >> ($0 * 8)) } },
                                     at: SoftCPUFixture.dataAddress)
        let before = cpu.cpu.instructionsRetired
        XCTAssertEqual(try cpu.cpu.step(instructions: 100), .exception(vector: 14, errorCode: 0))
        XCTAssertEqual(cpu.cpu.instructionsRetired &- before, 1 + 3 * 3, "the MOV, then three whole passes")
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 5, "RIP on the faulting load")
        XCTAssertEqual(try cpu.cpu.systemRegisters().cr2, 1 << 40)
    }
}
