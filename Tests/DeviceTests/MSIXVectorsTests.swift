import PCI
import VMMKit
import XCTest

/// MSI-X as PCI Local Bus 3.0, 6.8.2 has it: vectors masked after reset, pending bits while
/// masked or disabled, the message sent once unmasked.
final class MSIXVectorsTests: XCTestCase {
    private func vectors() -> (MSIXVectors, PCIConfiguration, LineRecorder, Int) {
        let msix = MSIXVectors(count: 3, bar: 1)
        var space = PCIConfigurationSpace(vendor: 0x1AF4, device: 0x1044, revision: 1, classCode: 0)
        space.setBAR(1, PCIBAR(size: msix.barSize))
        msix.addCapability(to: &space)
        let recorder = LineRecorder()
        msix.connect(recorder)
        return (msix, PCIConfiguration(space), recorder, Int(space.read(offset: 0x34, size: 1)))
    }

    private func setControl(_ msix: MSIXVectors, _ configuration: PCIConfiguration, capability: Int, _ control: UInt16) {
        configuration.write(offset: capability + 2, size: 2, value: UInt32(control))
        msix.configurationWritten(configuration, offset: capability + 2, size: 2)
    }

    func testCapabilityDescribesTableAndPendingBits() {
        let (msix, configuration, _, capability) = vectors()
        XCTAssertEqual(configuration.read(offset: capability, size: 1), 0x11)
        XCTAssertEqual(configuration.read(offset: capability + 2, size: 2), 2, "table size N-1")
        XCTAssertEqual(configuration.read(offset: capability + 4, size: 4), 1, "table at offset 0 of BAR 1")
        XCTAssertEqual(configuration.read(offset: capability + 8, size: 4), UInt32(msix.pendingOffset) | 1)
        configuration.write(offset: capability + 2, size: 2, value: 0xFFFF)
        XCTAssertEqual(configuration.read(offset: capability + 2, size: 2), 0xC002, "only enable and mask are writable")
        XCTAssertEqual(msix.read(offset: 12, size: 4), 1, "vector 0 masked after reset")
    }

    func testMaskedVectorIsPendingUntilUnmasked() {
        let (msix, configuration, recorder, capability) = vectors()
        msix.write(offset: 16, size: 8, value: 0xFEE0_1000)       // vector 1: address
        msix.write(offset: 24, size: 4, value: 0x4041)            // data
        msix.signal(1)
        XCTAssertTrue(recorder.sentMessages.isEmpty, "MSI-X disabled")
        XCTAssertEqual(msix.read(offset: msix.pendingOffset, size: 8), 0b010)
        setControl(msix, configuration, capability: capability, 0x8000)
        XCTAssertTrue(recorder.sentMessages.isEmpty, "enabled, but the vector is masked")
        msix.write(offset: 28, size: 4, value: 0)
        XCTAssertEqual(recorder.sentMessages, [MSIMessage(address: 0xFEE0_1000, data: 0x4041)])
        XCTAssertEqual(msix.read(offset: msix.pendingOffset, size: 8), 0, "no longer pending")
        msix.signal(1)
        XCTAssertEqual(recorder.sentMessages.count, 2, "unmasked: sent at once")
        setControl(msix, configuration, capability: capability, 0xC000)
        msix.signal(1)
        XCTAssertEqual(recorder.sentMessages.count, 2, "the function mask holds it")
        setControl(msix, configuration, capability: capability, 0x8000)
        XCTAssertEqual(recorder.sentMessages.count, 3, "and releases it")
        msix.signal(7)
        msix.signal(0xFFFF)
        XCTAssertEqual(recorder.sentMessages.count, 3, "no such vector: nothing")
    }

    func testPendingBitsAreReadOnlyAndOddAccessesHarmless() {
        let (msix, _, _, _) = vectors()
        msix.write(offset: msix.pendingOffset, size: 8, value: ~0)
        XCTAssertEqual(msix.read(offset: msix.pendingOffset, size: 8), 0)
        msix.write(offset: 2, size: 4, value: ~0)       // misaligned: dropped
        msix.write(offset: 0x7F8, size: 8, value: ~0)    // past the table
        XCTAssertEqual(msix.read(offset: 0, size: 8), 0)
        XCTAssertEqual(msix.read(offset: 0x7FF, size: 1), 0)
    }

    /// Through a router whose sink routes eventfds (KVM's irqchip), a vector is raised by its
    /// eventfd: routed on first use, again only for a new message or a new connection (a reboot's
    /// VM), and never while masked (the vector stays pending, nothing is signalled).
    func testVectorsAreRaisedThroughEventRoutesWhereTheSinkHasThem() {
        let (msix, configuration, _, capability) = vectors()
        let router = InterruptRouter()
        let sink = RoutingSink()
        router.connect(sink)
        msix.connect(router)
        msix.write(offset: 16, size: 8, value: 0xFEE0_1000)
        msix.write(offset: 24, size: 4, value: 0x4041)
        setControl(msix, configuration, capability: capability, 0x8000)
        msix.signal(1)
        XCTAssertTrue(sink.routed.isEmpty, "masked: not routed, not signalled")
        msix.write(offset: 28, size: 4, value: 0)
        XCTAssertEqual(sink.routed.map(\.message), [MSIMessage(address: 0xFEE0_1000, data: 0x4041)], "unmasking releases it")
        msix.signal(1)
        XCTAssertEqual(sink.routed.count, 1, "the same message: no new route")
        XCTAssertEqual(sink.routed[0].event.take(), 2, "each signal a write to the vector's eventfd")
        XCTAssertTrue(sink.sent.isEmpty, "nothing through send")
        msix.write(offset: 24, size: 4, value: 0x4042)
        msix.signal(1)
        XCTAssertEqual(sink.routed.last?.message.data, 0x4042, "a rewritten entry is routed again")
        router.connect(sink)
        msix.signal(1)
        XCTAssertEqual(sink.routed.count, 3, "and so is every vector after a new connection")
        sink.refuses = true
        router.connect(sink)
        msix.signal(1)
        XCTAssertEqual(sink.sent, [MSIMessage(address: 0xFEE0_1000, data: 0x4042)], "a refused route falls back to send")
    }
}

/// A sink that routes eventfds as KVM's irqchip does, recording the routes.
private final class RoutingSink: InterruptSink, MSIEventRouting, @unchecked Sendable {
    var routed: [(event: EventNotifier, message: MSIMessage)] = []
    var sent: [MSIMessage] = []
    var refuses = false

    func setLine(_ line: Int, high: Bool) {}
    func send(_ message: MSIMessage) { sent.append(message) }

    func route(_ event: EventNotifier, to message: MSIMessage) -> Bool {
        guard !refuses else { return false }
        routed.append((event, message))
        return true
    }
}
