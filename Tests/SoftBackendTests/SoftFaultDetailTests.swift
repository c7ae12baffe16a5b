import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// Details of faults that guests see: #PF error codes for reserved bits, the RF bit of the pushed
/// RFLAGS image, and the canonical-base checks of descriptor-table loads.
final class SoftFaultDetailTests: XCTestCase {
    private static let resumeFlag: UInt64 = 1 << 16

    func testReservedBitStopsTheWalkBeforeANotPresentEntryBelowIt() throws {
        // mov 0x40000000,%eax: the PDPTE for 1-2 GiB has bit 45 (above MAXPHYADDR 40) set, and the
        // directory entry below it is not present. The walk ends at the PDPTE: RSVD|P, not P=0.
        let cpu = try SoftCPUFixture(.long64, code: [0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40])
        let pdpte = BootLayout.standard.pageTables + 0x1000 + 8, pde = BootLayout.standard.pageTables + 0x3000
        try cpu.machine.memory.write(try cpu.machine.memory.read(UInt64.self, at: pdpte) | 1 << 45, at: pdpte)
        try cpu.machine.memory.write(try cpu.machine.memory.read(UInt64.self, at: pde) & ~1, at: pde)
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 14, errorCode: 9))
        XCTAssertEqual(try cpu.cpu.systemRegisters().cr2, 0x4000_0000)
    }

    func testReservedAddressBitsFollowTheAdvertisedMAXPHYADDR() throws {
        // mov 0x40000000,%eax through the 2 MiB page at 1 GiB with one address bit set: bits from
        // MAXPHYADDR (CPUID 0x80000008 EAX[7:0]) to 51 are reserved; the bit below it is an address bit
        // (of memory that does not exist, which reads as all ones).
        let width = UInt64(CPUIDModel.softCPU.physicalAddressBits)
        for (bit, reserved) in [(width - 1, false), (width, true), (51, true)] {
            let cpu = try SoftCPUFixture(.long64, code: [0x8b, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40])
            let pde = BootLayout.standard.pageTables + 0x3000
            try cpu.machine.memory.write(try cpu.machine.memory.read(UInt64.self, at: pde) | 1 << bit, at: pde)
            let expected: SoftStepOutcome = reserved ? .exception(vector: 14, errorCode: 9) : .completed
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), expected, "bit \(bit)")
        }
    }

    func testBit21OfA4MiBPageIsReservedIn32BitPaging() throws {
        // 32-bit paging with CR4.PSE: PDE 0 maps the code's 4 MiB, PDE 1 maps 4-8 MiB with bit 21 set,
        // which would be physical bit 40 (SDM vol. 3, table 4-4). movl 0x400000,%eax reads through it.
        let cpu = try SoftCPUFixture(.protected32, code: [0xa1, 0x00, 0x00, 0x40, 0x00])
        let directory: UInt64 = 0x80_0000
        try cpu.machine.memory.write(UInt32(0x0000_0083), at: directory)
        try cpu.machine.memory.write(UInt32(0x0040_0083 | 1 << 21), at: directory + 4)
        try cpu.setSystemRegisters {
            $0.cr3 = directory
            $0.cr4 |= 1 << 4 // PSE
            $0.cr0 |= ControlBits.cr0PG
        }
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 14, errorCode: 9))
        XCTAssertEqual(try cpu.cpu.systemRegisters().cr2, 0x40_0000)
    }

    /// Runs `code` to its first exception, delivers it through a 64-bit gate, and returns the RFLAGS
    /// image the delivery pushed.
    private func pushedFlags(afterRaising vector: UInt8, code: [UInt8]) throws -> UInt64 {
        let cpu = try SoftCPUFixture(.long64, code: code + [UInt8](repeating: 0xf4, count: 0x20 - code.count))
        try cpu.writeInterruptGate(vector: Int(vector), handler: SoftCPUFixture.codeAddress + 0x10)
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: vector, errorCode: nil))
        try cpu.cpu.injectException(vector: vector, errorCode: nil)
        let registers = try cpu.cpu.generalRegisters()
        XCTAssertEqual(registers.rip, SoftCPUFixture.codeAddress + 0x10)
        return try cpu.machine.memory.read(UInt64.self, at: registers.rsp + 16)
    }

    func testFaultsPushRFAndTrapsDoNot() throws {
        // SDM vol. 3, 18.3.1.1: RF is set in the image pushed for a fault (ud2 raises #UD) so that the
        // restarted instruction does not hit its instruction breakpoint again; INT3 is a trap.
        XCTAssertNotEqual(try pushedFlags(afterRaising: 6, code: [0x0f, 0x0b]) & Self.resumeFlag, 0)
        XCTAssertEqual(try pushedFlags(afterRaising: 3, code: [0xcc]) & Self.resumeFlag, 0)
        XCTAssertEqual(try pushedFlags(afterRaising: 1, code: [0xf1]) & Self.resumeFlag, 0, "INT1 is a trap")
    }

    func testLGDTAndLIDTRejectANonCanonicalBaseIn64BitMode() throws {
        // lgdt 0x200000 / lidt 0x200000 with base 0x8000_0000_0000_0000: #GP(0) (SDM vol. 2, LGDT/LIDT).
        for modrm: UInt8 in [0x14, 0x1c] {
            let cpu = try SoftCPUFixture(.long64, code: [0x0f, 0x01, modrm, 0x25, 0x00, 0x00, 0x20, 0x00])
            try cpu.machine.memory.write(UInt16(0xfff), at: SoftCPUFixture.dataAddress)
            try cpu.machine.memory.write(UInt64(0x8000_0000_0000_0000), at: SoftCPUFixture.dataAddress + 2)
            let before = try cpu.cpu.systemRegisters()
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 13, errorCode: 0), "modrm \(modrm)")
            let after = try cpu.cpu.systemRegisters()
            XCTAssertEqual(after.gdt.base, before.gdt.base)
            XCTAssertEqual(after.idt.base, before.idt.base)
        }
    }

    func testLLDTAndLTRRejectANonCanonicalOrMalformedSystemDescriptor() throws {
        // mov $0x18,%ax; lldt %ax / ltr %ax with a 16-byte descriptor at 0x18 whose base is
        // 0x0000_8000_0000_0000 (not canonical), or whose upper half has a non-zero type field:
        // #GP(0x18) (SDM vol. 2, LLDT and LTR; vol. 3, 8.2.3).
        let cases: [(reg: UInt8, type: UInt64, upper: UInt64)] = [
            (0xd0, 0x82, 0x8000), (0xd8, 0x89, 0x8000), (0xd0, 0x82, 0x0100_0000_0000), (0xd8, 0x89, 0x0100_0000_0000),
        ]
        for (reg, type, upper) in cases {
            let cpu = try SoftCPUFixture(.long64, code: [0x66, 0xb8, 0x18, 0x00, 0x0f, 0x00, reg])
            let gdt: [UInt64] = [0, 0x00af_9b00_0000_ffff, 0x00cf_9300_0000_ffff, type << 40 | 0x67, upper]
            for (index, descriptor) in gdt.enumerated() { try cpu.machine.memory.write(descriptor, at: 0x1000 + UInt64(index) * 8) }
            try cpu.setSystemRegisters {
                $0.gdt = DescriptorTableRegister(base: 0x1000, limit: 39)
                $0.cs.selector = 0x08
                $0.ss.selector = 0x10
            }
            try cpu.step(1)
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 13, errorCode: 0x18),
                           "reg \(reg) upper \(upper)")
        }
    }
}
