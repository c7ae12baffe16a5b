import LocalAPIC
import VMMKit
import XCTest

/// KVM's PV EOI in vmm's local APIC (msr.rst, MSR_KVM_PV_EOI_EN), register by register: when the
/// flag is set, what seeing it cleared ends, and when the permission is taken back.
final class ParavirtualEOITests: XCTestCase {
    private static let msr: UInt32 = 0x4b56_4d04
    private static let flag: UInt64 = 0x2000
    private var machine: Machine!
    private var apics: LocalAPICs!

    override func setUpWithError() throws {
        machine = try Machine(memorySize: 2 << 20, vcpuCount: 1)
        apics = LocalAPICs(vcpuCount: 1, timers: DeviceTimers(clock: .manual))
        try apics.attach(to: machine)
        apics.kick = { _ in }
        apics.write(BusAccess(address: 0xFEE0_00F0, offset: 0xF0, size: 4, vcpu: 0), value: 0x1FF)
        XCTAssertTrue(apics.writeMSR(Self.msr, value: Self.flag | 1, vcpu: 0))
    }

    private var flagBit: UInt32 { (try? machine.memory.read(UInt32.self, at: Self.flag)) ?? 0xdead }
    private func guestClearsFlag() throws { try machine.memory.write(UInt32(0), at: Self.flag) }
    private func inService(_ vector: UInt8) -> Bool {
        let register = 0x100 + UInt64(vector / 32) * 0x10
        let value = apics.read(BusAccess(address: 0xFEE0_0000 + register, offset: register, size: 4, vcpu: 0))
        return (value >> UInt64(vector % 32)) & 1 != 0
    }
    private func fixed(_ vector: UInt8, level: Bool = false) {
        apics.deliver(APICMessage(vector: vector, deliveryMode: .fixed, destination: 0, levelTriggered: level))
    }
    private var apic: LocalAPIC { apics.apics[0] }

    func testTheMSR() {
        XCTAssertEqual(apics.readMSR(Self.msr, vcpu: 0), Self.flag | 1)
        XCTAssertFalse(apics.writeMSR(Self.msr, value: Self.flag | 3, vcpu: 0), "bit 1 is reserved")
        XCTAssertFalse(apics.writeMSR(Self.msr, value: 0x1_0000_0000 | 1, vcpu: 0), "outside RAM")
        XCTAssertTrue(apics.writeMSR(Self.msr, value: 0x1_0000_0000, vcpu: 0), "disabled: no address to check")
    }

    /// Alone and edge-triggered: the flag is set; cleared by the guest, the next exit ends it.
    func testAnEOIThroughTheFlag() throws {
        fixed(0x40)
        XCTAssertEqual(apic.acknowledge(), 0x40)
        XCTAssertEqual(flagBit, 1)
        try guestClearsFlag()
        XCTAssertEqual(apic.synchronizeAfterExit(), 1)
        XCTAssertFalse(inService(0x40))
        XCTAssertEqual(apic.synchronizeAfterExit(), 0, "counted once")
    }

    /// Still set at the exit and nothing new: kept. Something arrives: taken back, and the
    /// guest's own EOI write ends the vector.
    func testTakenBackWhenAnInterruptArrives() {
        fixed(0x40)
        XCTAssertEqual(apic.acknowledge(), 0x40)
        XCTAssertEqual(apic.synchronizeAfterExit(), 0)
        XCTAssertEqual(flagBit, 1, "kept while nothing waits")
        fixed(0x30)
        XCTAssertEqual(apic.synchronizeAfterExit(), 0)
        XCTAssertEqual(flagBit, 0, "taken back: 0x30 must not wait for a later exit")
        XCTAssertTrue(inService(0x40))
        apics.write(BusAccess(address: 0xFEE0_00B0, offset: 0xB0, size: 4, vcpu: 0), value: 0)
        XCTAssertFalse(inService(0x40))
        XCTAssertEqual(apic.acknowledge(), 0x30)
        XCTAssertEqual(flagBit, 1)
    }

    /// Not set while another interrupt waits, nor for a level-triggered vector.
    func testNotSetWhenUnsafe() {
        fixed(0x50)
        fixed(0x30)
        XCTAssertEqual(apic.acknowledge(), 0x50)
        XCTAssertEqual(flagBit, 0, "0x30 waits")
        fixed(0x60, level: true)
        XCTAssertEqual(apic.acknowledge(), 0x60)
        XCTAssertEqual(flagBit, 0, "level-triggered: its EOI must reach the IOAPIC")
    }

    /// The guest's EOI write after a skipped one: the skipped one (the higher vector) ends first.
    func testASkippedEOIComesBeforeTheNextWrite() throws {
        fixed(0x40)
        _ = apic.acknowledge()
        fixed(0x80)
        XCTAssertEqual(apic.synchronizeAfterExit(), 0)
        XCTAssertEqual(flagBit, 0, "0x40's flag taken back")
        XCTAssertEqual(apic.acknowledge(), 0x80)
        XCTAssertEqual(flagBit, 1, "0x80 alone")
        try guestClearsFlag() // 0x80's handler skips its EOI
        apics.write(BusAccess(address: 0xFEE0_00B0, offset: 0xB0, size: 4, vcpu: 0), value: 0) // 0x40's handler writes
        XCTAssertFalse(inService(0x80))
        XCTAssertFalse(inService(0x40))
    }
}
