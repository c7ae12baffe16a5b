import LocalAPIC
@testable import PCBoard
import TestSupport
import VMMKit
import XCTest

/// The devices that write guest memory themselves, against addresses outside guest RAM
/// (`HostileGuestRange`): the PV EOI flag and the ACPI table writer. Each refuses as documented and
/// leaves RAM as it was.
final class DeviceGuestMemoryBoundsTests: XCTestCase {
    /// MSR_KVM_PV_EOI_EN with a flag address outside RAM or in ROM: #GP (the handler says false), as
    /// kvm_lapic_set_pv_eoi refuses it, and no flag is ever written there. The 4-byte flag is 4-byte
    /// aligned, so it can only lie wholly outside: each range's first aligned word is the address.
    func testParavirtualEOIFlagsOutsideRAMAreRefused() throws {
        let machine = try Machine(memorySize: 2 << 20, vcpuCount: 1)
        try machine.memory.addRegion(name: "ROM", at: 0xFFFF_0000, size: 0x1_0000, kind: .rom)
        let apics = LocalAPICs(vcpuCount: 1, timers: DeviceTimers(clock: .manual))
        try apics.attach(to: machine)
        apics.kick = { _ in }
        let msr: UInt32 = 0x4b56_4d04
        let outside = HostileGuestRange.all(in: machine.memory).map { $0.address & ~3 }
            .filter { machine.memory.region(containing: $0, length: 1) == nil } + [0xFFFF_0000, 0xFFFF_FFFC]
        XCTAssertGreaterThanOrEqual(outside.count, 7)
        for address in outside {
            XCTAssertFalse(apics.writeMSR(msr, value: address | 1, vcpu: 0), "flag at 0x\(String(address, radix: 16))")
        }
        XCTAssertEqual(apics.readMSR(msr, vcpu: 0), 0, "still off")
        // A flag in RAM still works, and the refusals above left nothing behind.
        XCTAssertTrue(apics.writeMSR(msr, value: 0x2000 | 1, vcpu: 0))
        XCTAssertEqual(try machine.memory.readBytes(at: 0, count: 2 << 20).filter { $0 != 0 }.count, 0)
    }

    /// The ACPI tables in a guest whose RAM ends before them, or with ROM where they go: the writer
    /// fails (the board then refuses the machine), and no RSDP points at half-written tables.
    func testACPITablesThatDoNotFitAreRefused() throws {
        for (ramSize, rom) in [(UInt64(0xD_0000), false), (0xE_0000, false), (0xE_0000, true)] {
            let memory = GuestMemory()
            try memory.addRegion(name: "RAM", at: 0, size: ramSize)
            if rom { try memory.addRegion(name: "BIOS ROM", at: 0xE_0000, size: 0x2_0000, kind: .rom) }
            XCTAssertThrowsError(try ACPITables.write(into: memory, cpus: 4, pci: PCBoard.pciWindows),
                                 "RAM 0x\(String(ramSize, radix: 16)), ROM \(rom)") { error in
                switch error as? GuestMemoryError {
                case .outOfBounds?, .readOnly?: break
                default: XCTFail("\(error)")
                }
            }
            XCTAssertEqual(try memory.readBytes(at: 0, count: Int(ramSize)).filter { $0 != 0 }.count, 0, "RAM untouched")
            if rom { XCTAssertEqual(try memory.readBytes(at: 0xE_0000, count: 8), [UInt8](repeating: 0, count: 8), "no RSDP") }
        }
    }
}
