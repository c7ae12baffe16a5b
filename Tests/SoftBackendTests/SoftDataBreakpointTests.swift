import SoftBackend
import VMMKit
import XCTest

/// Data breakpoints (SDM vol. 3, 18.2.4-18.2.5 and 18.3.1.2): DR7 R/W = 01 traps after a write,
/// 11 after a read or write, of any byte of the 1, 2, 4 or 8 aligned bytes LEN selects, with DR6.Bn
/// set; the trap after MOV SS waits for the next instruction. In step mode the #DB is reported with
/// RIP after the accessing instruction.
final class SoftDataBreakpointTests: XCTestCase {
    static let data = SoftCPUFixture.dataAddress
    static let writes: UInt64 = 1, readsAndWrites: UInt64 = 3
    /// LEN encodings by length.
    static let length: [UInt64: UInt64] = [1: 0, 2: 1, 8: 2, 4: 3]

    /// DR7 with breakpoint `index` locally enabled as a data breakpoint.
    static func dr7(_ index: Int, kind: UInt64, bytes: UInt64) -> UInt64 {
        0x400 | 1 << (2 * UInt64(index)) | kind << (16 + 4 * UInt64(index)) | length[bytes]! << (18 + 4 * UInt64(index))
    }

    /// Arms breakpoint `index` at `address` as R/W = `kind` (SoftIOBreakpointTests arms I/O ones too).
    static func arm(_ cpu: SoftCPUFixture, _ index: Int, at address: UInt64, kind: UInt64, bytes: UInt64) throws {
        var debug = try cpu.cpu.debugRegisters()
        switch index {
        case 0: debug.dr0 = address
        case 1: debug.dr1 = address
        case 2: debug.dr2 = address
        default: debug.dr3 = address
        }
        debug.dr7 |= Self.dr7(index, kind: kind, bytes: bytes)
        try cpu.cpu.setDebugRegisters(debug)
    }

    func testWriteBreakpointTrapsAfterAWriteOfAnyWatchedByte() throws {
        // mov %eax,0x200000 (bytes 0-3, outside); mov %al,0x200006 (inside 4-7); nop
        let cpu = try SoftCPUFixture(.long64, code: [0x89, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x88, 0x04, 0x25, 0x06, 0x00, 0x20, 0x00, 0x90])
        try Self.arm(cpu, 2, at: Self.data + 4, kind: Self.writes, bytes: 4)
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 14, "a trap, after the write")
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 1 << 2, "B2")
    }

    func testWriteBreakpointIgnoresReadsAndReadWriteBreakpointCatchesThem() throws {
        // mov 0x200004,%eax; nop
        let code: [UInt8] = [0x8b, 0x04, 0x25, 0x04, 0x00, 0x20, 0x00, 0x90]
        let writeOnly = try SoftCPUFixture(.long64, code: code)
        try Self.arm(writeOnly, 0, at: Self.data + 4, kind: Self.writes, bytes: 1)
        XCTAssertEqual(try writeOnly.cpu.step(instructions: 2), .completed)
        let readWrite = try SoftCPUFixture(.long64, code: code)
        try Self.arm(readWrite, 0, at: Self.data + 4, kind: Self.readsAndWrites, bytes: 1)
        XCTAssertEqual(try readWrite.cpu.step(instructions: 2), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try readWrite.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 7)
        XCTAssertEqual(try readWrite.cpu.debugRegisters().dr6 & 0xf, 1)
    }

    /// An 8-byte breakpoint set at an unaligned address watches its aligned quadword; a 2-byte one
    /// only its word.
    func testLengthsWatchTheirAlignedBytes() throws {
        // mov 0x200017,%al; mov 0x200022,%al; nop
        let code: [UInt8] = [0x8a, 0x04, 0x25, 0x17, 0x00, 0x20, 0x00, 0x8a, 0x04, 0x25, 0x22, 0x00, 0x20, 0x00, 0x90]
        let cpu = try SoftCPUFixture(.long64, code: code)
        try Self.arm(cpu, 1, at: Self.data + 0x13, kind: Self.readsAndWrites, bytes: 8)
        try Self.arm(cpu, 3, at: Self.data + 0x20, kind: Self.readsAndWrites, bytes: 2)
        XCTAssertEqual(try cpu.cpu.step(instructions: 3), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 7)
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 1 << 1, "B1: 0x200017 is in 0x200010-0x200017")
        XCTAssertEqual(try cpu.cpu.step(instructions: 2), .completed, "0x200022 is outside 0x200020-0x200021")
    }

    func testTrapOfAMOVSSLoadWaitsForTheNextInstruction() throws {
        // mov 0x200000,%ss; nop; nop
        let cpu = try SoftCPUFixture(.long64, code: [0x8e, 0x14, 0x25, 0x00, 0x00, 0x20, 0x00, 0x90, 0x90])
        try cpu.machine.memory.write(try cpu.cpu.systemRegisters().ss.selector, at: Self.data)
        try Self.arm(cpu, 0, at: Self.data, kind: Self.readsAndWrites, bytes: 2)
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, SoftCPUFixture.codeAddress + 8, "after the NOP after MOV SS")
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 1)
    }

    /// A loop whose blocks were translated, and whose data page is in the software TLB, before the
    /// breakpoint is armed: the write of iteration 500 traps.
    func testWritesFromTranslatedCodeAreCaught() throws {
        // 1: inc %ecx; mov %ecx,0x200000(,%rcx,4); cmp $0x400,%ecx; jne 1b; hlt
        // (the same bytes in 64-bit and in 32-bit code)
        let code: [UInt8] = [0xff, 0xc1, 0x89, 0x0c, 0x8d, 0x00, 0x00, 0x20, 0x00, 0x81, 0xf9, 0x00, 0x04, 0x00, 0x00, 0x75, 0xef, 0xf4]
        for mode in [SoftCPUFixture.Mode.long64, .protected32] {
            let cpu = try SoftCPUFixture.warmedUp(code, mode: mode)
            try Self.arm(cpu, 0, at: Self.data + 500 * 4, kind: Self.writes, bytes: 4)
            try cpu.assertDebugTrap(at: 9, rcx: 500, hits: 1, instructions: 100_000) // after the write
        }
    }

    /// A repeated string instruction traps after the iteration that hit, at the instruction, with
    /// the rest of the count still to do.
    func testRepeatedStringTrapsAfterTheIterationThatHit() throws {
        // rep stosb; nop -- RDI = 0x200000, RCX = 16
        let cpu = try SoftCPUFixture(.long64, code: [0xf3, 0xaa, 0x90])
        try cpu.setRegisters { $0.rdi = Self.data; $0.rcx = 16 }
        try Self.arm(cpu, 0, at: Self.data + 5, kind: Self.writes, bytes: 1)
        try cpu.assertDebugTrap(at: 0, rcx: 10, also: (\.rdi, Self.data + 6), hits: 1)
    }

    func testSingleStepAndDataBreakpointShareOneTrap() throws {
        // mov %eax,0x200000; nop
        let cpu = try SoftCPUFixture(.long64, code: [0x89, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x90])
        try Self.arm(cpu, 3, at: Self.data, kind: Self.writes, bytes: 4)
        try cpu.setRegisters { $0.rflags |= 1 << 8 }
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 1, errorCode: nil))
        let dr6 = try cpu.cpu.debugRegisters().dr6
        XCTAssertEqual(dr6 & 0xf, 1 << 3, "B3")
        XCTAssertNotEqual(dr6 & 1 << 14, 0, "BS")
    }
}
