import SoftBackend
import VMMKit
import XCTest

/// An ALU instruction and the Jcc after it run as one fused block entry; stepping, budgets and faults
/// must still see two instructions. Byte arrays assembled with GNU as from the listing in each comment.
final class SoftFusedBranchTests: XCTestCase {
    func testSteppingStopsBetweenTheCompareAndItsBranch() throws {
        // mov $3,%ecx; 1: sub $1,%ecx; jne 1b; hlt
        let cpu = try SoftCPUFixture(.long64, code: [0xb9, 0x03, 0x00, 0x00, 0x00, 0x83, 0xe9, 0x01, 0x75, 0xfb, 0xf4])
        let start = SoftCPUFixture.codeAddress
        var registers = try cpu.step(2) // the MOV, then the SUB alone
        XCTAssertEqual(registers.rcx, 2)
        XCTAssertEqual(registers.rip, start + 8, "stopped on the JNE")
        registers = try cpu.step(1)
        XCTAssertEqual(registers.rip, start + 5, "the JNE alone was taken")
        registers = try cpu.step(3) // SUB+JNE fused (rcx 1, taken), then SUB alone (rcx 0)
        XCTAssertEqual(registers.rcx, 0)
        XCTAssertEqual(registers.rip, start + 8)
        registers = try cpu.step(1) // the JNE falls through
        XCTAssertEqual(registers.rip, start + 10)
        XCTAssertEqual(try cpu.cpu.step(instructions: 5), .halted)
    }

    func testLoopOfFusedPairsRunsToTheEnd() throws {
        // mov $1000,%ecx; xor %eax,%eax; 1: add $2,%eax; sub $1,%ecx; jne 1b; hlt
        let cpu = try SoftCPUFixture(.long64, code: [0xb9, 0xe8, 0x03, 0x00, 0x00, 0x31, 0xc0, 0x83, 0xc0, 0x02,
                                                     0x83, 0xe9, 0x01, 0x75, 0xf8, 0xf4])
        // Exactly 2 + 3 * 1000 instructions reach the HLT, and one more runs it.
        var registers = try cpu.step(2 + 3 * 1000)
        XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + 15)
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .halted)
        registers = try cpu.cpu.generalRegisters()
        XCTAssertEqual(registers.rax, 2000)
        XCTAssertEqual(registers.rcx, 0)
        XCTAssertEqual(try cpu.arithmeticFlags() & SoftFlag.zf, SoftFlag.zf)
    }

    func testFaultInAFusedMemoryCompareLeavesRIPOnTheCompare() throws {
        // nop; cmpq $0,(%rax); je 1f; 1: hlt   with RAX in an unmapped 512 GiB region
        let cpu = try SoftCPUFixture(.long64, code: [0x90, 0x48, 0x83, 0x38, 0x00, 0x74, 0x00, 0xf4])
        try cpu.setRegisters { $0.rax = 1 << 40 }
        XCTAssertEqual(try cpu.cpu.step(instructions: 5), .exception(vector: 14, errorCode: 0))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 1)
        XCTAssertEqual(try cpu.cpu.systemRegisters().cr2, 1 << 40)
    }
}
