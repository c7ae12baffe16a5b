import IOAPIC
import Synchronization
import VMMKit
import XCTest

/// Collects what an IOAPIC sends.
private final class IOAPICMessageRecorder: @unchecked Sendable {
    private let recorded = Mutex<[APICMessage]>([])
    var messages: [APICMessage] { recorded.withLock { $0 } }
    func record(_ message: APICMessage) { recorded.withLock { $0.append(message) } }
    func clear() { recorded.withLock { $0.removeAll() } }
}

final class IOAPICTests: XCTestCase {
    private var ioapic = IOAPIC()
    private let sent = IOAPICMessageRecorder()

    override func setUp() {
        ioapic = IOAPIC()
        sent.clear()
        ioapic.deliver = { [sent] in sent.record($0) }
    }

    private func writeRegister(_ index: UInt8, _ value: UInt32) {
        ioapic.write(BusAccess(address: IOAPIC.defaultBase, offset: 0, size: 4, vcpu: 0), value: UInt64(index))
        ioapic.write(BusAccess(address: IOAPIC.defaultBase + 0x10, offset: 0x10, size: 4, vcpu: 0), value: UInt64(value))
    }

    private func readRegister(_ index: UInt8) -> UInt32 {
        ioapic.write(BusAccess(address: IOAPIC.defaultBase, offset: 0, size: 4, vcpu: 0), value: UInt64(index))
        return UInt32(ioapic.read(BusAccess(address: IOAPIC.defaultBase + 0x10, offset: 0x10, size: 4, vcpu: 0)))
    }

    private func program(pin: Int, low: UInt32, destination: UInt8 = 0) {
        writeRegister(UInt8(0x11 + 2 * pin), UInt32(destination) << 24)
        writeRegister(UInt8(0x10 + 2 * pin), low)
    }

    func testIdentificationRegisters() {
        XCTAssertEqual(readRegister(0x01), 0x0017_0020, "version 0x20, 24 entries")
        writeRegister(0x00, 0x0500_0000)
        XCTAssertEqual(readRegister(0x00), 0x0500_0000)
        XCTAssertEqual(readRegister(0x02), 0x0500_0000, "arbitration ID follows the ID")
        ioapic.write(BusAccess(address: IOAPIC.defaultBase, offset: 0, size: 1, vcpu: 0), value: 0x12)
        XCTAssertEqual(ioapic.read(BusAccess(address: IOAPIC.defaultBase, offset: 0, size: 1, vcpu: 0)), 0x12)
    }

    func testEntriesStartMaskedAndKeepReadOnlyBits() {
        XCTAssertEqual(readRegister(0x10), 0x0001_0000)
        writeRegister(0x10 + 2 * 23, 0xFFFF_FFFF)
        XCTAssertEqual(readRegister(0x10 + 2 * 23), 0x0001_AFFF, "delivery status and remote IRR are read-only")
        writeRegister(0x11 + 2 * 23, 0xFFFF_FFFF)
        XCTAssertEqual(readRegister(0x11 + 2 * 23), 0xFF00_0000)
        XCTAssertEqual(readRegister(0x10 + 2 * 24), 0, "no entry 24")
    }

    func testEdgeEntrySendsOnRisingEdgesOnly() {
        program(pin: 4, low: 0x34, destination: 1)
        ioapic.setPin(4, high: true)
        ioapic.setPin(4, high: true)
        XCTAssertEqual(sent.messages, [APICMessage(vector: 0x34, deliveryMode: .fixed, destination: 1)])
        ioapic.setPin(4, high: false)
        ioapic.setPin(4, high: true)
        XCTAssertEqual(sent.messages.count, 2)
    }

    func testMaskedEdgeIsLost() {
        program(pin: 4, low: 0x1_0034)
        ioapic.setPin(4, high: true)
        writeRegister(0x18, 0x34)
        XCTAssertTrue(sent.messages.isEmpty)
    }

    func testLevelEntryHoldsRemoteIRRUntilEOI() {
        program(pin: 9, low: 0x8000 | 0x49)
        ioapic.setPin(9, high: true)
        XCTAssertEqual(sent.messages.count, 1)
        XCTAssertTrue(sent.messages[0].levelTriggered)
        XCTAssertNotEqual(readRegister(0x10 + 18) & 0x4000, 0, "remote IRR set")
        ioapic.setPin(9, high: true)
        XCTAssertEqual(sent.messages.count, 1, "nothing more until EOI")
        ioapic.endOfInterrupt(vector: 0x49)
        XCTAssertEqual(sent.messages.count, 2, "still asserted: sent again")
        ioapic.setPin(9, high: false)
        ioapic.endOfInterrupt(vector: 0x49)
        XCTAssertEqual(sent.messages.count, 2)
        XCTAssertEqual(readRegister(0x10 + 18) & 0x4000, 0, "remote IRR clear")
    }

    func testEOIRegisterClearsRemoteIRR() {
        program(pin: 9, low: 0x8000 | 0x49)
        ioapic.setPin(9, high: true)
        ioapic.setPin(9, high: false)
        ioapic.write(BusAccess(address: IOAPIC.defaultBase + 0x40, offset: 0x40, size: 4, vcpu: 0), value: 0x49)
        XCTAssertEqual(readRegister(0x10 + 18) & 0x4000, 0)
    }

    /// Sequences KVM's in-kernel IOAPIC (arch/x86/kvm/ioapic.c) handles the same way: an entry
    /// switched from level to edge while remote IRR is set drops it and then sends on every rising
    /// edge; one EOI ends every level entry with that vector, and only lines still asserted send again.
    func testEdgeAfterLevelAndSharedVectorEOI() {
        program(pin: 5, low: 0x8000 | 0x45)
        ioapic.setPin(5, high: true)
        XCTAssertNotEqual(readRegister(0x10 + 10) & 0x4000, 0, "remote IRR set")
        program(pin: 5, low: 0x45) // edge now, unmasked
        XCTAssertEqual(readRegister(0x10 + 10) & 0x4000, 0, "an edge entry keeps no remote IRR")
        ioapic.setPin(5, high: false)
        ioapic.setPin(5, high: true)
        ioapic.setPin(5, high: false)
        ioapic.setPin(5, high: true)
        XCTAssertEqual(sent.messages.count, 3, "the level send, then one per rising edge")
        XCTAssertFalse(sent.messages[2].levelTriggered)

        sent.clear()
        program(pin: 6, low: 0x8000 | 0x60)
        program(pin: 7, low: 0x8000 | 0x60)
        ioapic.setPin(6, high: true)
        ioapic.setPin(7, high: true)
        XCTAssertEqual(sent.messages.count, 2)
        ioapic.setPin(7, high: false)
        ioapic.write(BusAccess(address: IOAPIC.defaultBase + 0x40, offset: 0x40, size: 4, vcpu: 0), value: 0x60)
        XCTAssertEqual(sent.messages.count, 3, "pin 6 is still asserted and sends again; pin 7 does not")
        XCTAssertNotEqual(readRegister(0x10 + 12) & 0x4000, 0, "pin 6 waits for its next EOI")
        XCTAssertEqual(readRegister(0x10 + 14) & 0x4000, 0, "pin 7 is done")
    }

    func testUnmaskingAnAssertedLevelLineSends() {
        program(pin: 10, low: 0x1_8000 | 0x50)
        ioapic.setPin(10, high: true)
        XCTAssertTrue(sent.messages.isEmpty)
        writeRegister(0x10 + 20, 0x8000 | 0x50)
        XCTAssertEqual(sent.messages.count, 1)
    }

    func testActiveLowPolarity() {
        ioapic.setPin(11, high: true)
        program(pin: 11, low: 0x2000 | 0x8000 | 0x51)
        XCTAssertTrue(sent.messages.isEmpty, "a high line leaves an active-low pin idle")
        ioapic.setPin(11, high: false)
        XCTAssertEqual(sent.messages.count, 1, "a low line asserts an active-low pin")
    }

    func testDeliveryModesAndDestinations() {
        program(pin: 1, low: 0x100 | 0x800 | 0x61, destination: 0x03)
        program(pin: 2, low: 0x400, destination: 0)
        program(pin: 3, low: 0x700, destination: 0)
        program(pin: 5, low: 0x500, destination: 2)
        for pin in [1, 2, 3, 5] { ioapic.setPin(pin, high: true) }
        XCTAssertEqual(sent.messages, [
            APICMessage(vector: 0x61, deliveryMode: .lowestPriority, logicalDestination: true, destination: 3),
            APICMessage(vector: 0, deliveryMode: .nonMaskable, destination: 0),
            APICMessage(vector: 0, deliveryMode: .external, destination: 0),
            APICMessage(vector: 0, deliveryMode: .initialize, destination: 2),
        ])
    }

    func testReservedDeliveryModeSendsNothing() {
        program(pin: 6, low: 0x300 | 0x40)
        ioapic.setPin(6, high: true)
        XCTAssertTrue(sent.messages.isEmpty)
    }

    func testPinsOutsideTheTableAreIgnored() {
        ioapic.setPin(24, high: true)
        ioapic.setPin(-1, high: true)
        XCTAssertTrue(sent.messages.isEmpty)
    }
}
