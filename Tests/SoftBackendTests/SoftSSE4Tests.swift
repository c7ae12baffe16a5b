import XCTest
import SoftBackend
import VMMKit

/// What the differential tests cannot show: the CPUID model of the x86-64-v2 extensions, the #UD of
/// the MMX forms (the host runs them), and a CRC32/PCMPISTRI loop as compiled string code uses them.
final class SoftSSE4Tests: XCTestCase {
    func testCPUIDAdvertisesTheImplementedExtensions() throws {
        // mov $1,%eax; cpuid; mov %ecx,%esi; mov $0x80000001,%eax; cpuid
        let cpu = try SoftCPUFixture(.long64, code: [0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2, 0x89, 0xce,
                                                     0xb8, 0x01, 0x00, 0x00, 0x80, 0x0f, 0xa2])
        let registers = try cpu.step(5)
        let leaf1ECX = registers.rsi
        // With LAHF/SAHF below: the x86-64-v2 level (SSE3 includes x87's FISTTP).
        for (bit, name) in [(0, "SSE3"), (9, "SSSE3"), (13, "CX16"), (19, "SSE4.1"), (20, "SSE4.2"), (23, "POPCNT")] {
            XCTAssertNotEqual(leaf1ECX >> UInt64(bit) & 1, 0, "\(name) is implemented: CPUID.1:ECX[\(bit)] should be set")
        }
        XCTAssertEqual(leaf1ECX >> 3 & 1, 0, "MONITOR/MWAIT are not implemented")
        XCTAssertNotEqual(registers.rcx & 1, 0, "LAHF/SAHF in 64-bit mode (CPUID 0x80000001:ECX[0])")
    }

    /// The unprefixed SSSE3 forms take MMX registers, which this CPU does not have (CPUID.1:EDX.MMX
    /// clear): #UD, like every other MMX opcode.
    func testMMXFormsOfSSSE3AreInvalid() throws {
        for code: [UInt8] in [[0x0f, 0x38, 0x00, 0xc1], [0x0f, 0x38, 0x1c, 0xc1], [0x0f, 0x3a, 0x0f, 0xc1, 0x03]] {
            let cpu = try SoftCPUFixture(.long64, code: code)
            try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 6, errorCode: nil), "\(code)")
        }
    }

    /// CRC32C of "123456789" (the check value E3069283h, after the customary inversions) byte by
    /// byte, and PCMPISTRI finding the terminator of the same string: the two loops glibc- and
    /// kernel-style code runs, through the block decoder and (where available) the translator.
    func testCRC32AndStringLengthLoops() throws {
        // mov $0x200000,%rdi; mov $-1,%eax; 1: movzbl (%rdi),%ecx; test %ecx,%ecx; jz 2f;
        // crc32b (%rdi),%eax; inc %rdi; jmp 1b; 2: not %eax; mov %eax,%ebx;
        // pxor %xmm0,%xmm0; mov $0x200000,%rdi; pcmpistri $0x08,(%rdi),%xmm0
        let code: [UInt8] = [0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00, 0xb8, 0xff, 0xff, 0xff, 0xff,
                             0x0f, 0xb6, 0x0f, 0x85, 0xc9, 0x74, 0x0a, 0xf2, 0x0f, 0x38, 0xf0, 0x07, 0x48, 0xff, 0xc7,
                             0xeb, 0xef, 0xf7, 0xd0, 0x89, 0xc3,
                             0x66, 0x0f, 0xef, 0xc0, 0x48, 0xc7, 0xc7, 0x00, 0x00, 0x20, 0x00,
                             0x66, 0x0f, 0x3a, 0x63, 0x07, 0x08]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try cpu.setSystemRegisters { $0.cr4 |= ControlBits.cr4OSFXSR }
        let text = Array("123456789".utf8) + [0, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46]
        for (offset, byte) in text.enumerated() { try cpu.machine.memory.write(byte, at: 0x20_0000 + UInt64(offset)) }
        let registers = try cpu.step(2 + 9 * 6 + 3 + 2 + 3)
        XCTAssertEqual(registers.rbx, 0xe306_9283)
        XCTAssertEqual(registers.rcx, 9, "PCMPISTRI equal-each against an empty xmm0: the first non-matching byte")
    }
}
