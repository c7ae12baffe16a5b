import Foundation
import Glibc
import Virtio
import VirtioPCI
import VMMKit
import XCTest

/// The transport with a device whose queues another process serves (a vhost-user device, here a
/// stand-in that records what it is given): guest RAM becomes shared, DRIVER_OK hands over the
/// queue the driver programmed, a doorbell writes the queue's kick eventfd, the back-end's call
/// becomes the queue's MSI, and a connection that hangs up makes the device need a reset.
final class RemoteVirtioTransportTests: XCTestCase {
    final class StandIn: RemoteVirtioDevice, @unchecked Sendable {
        let deviceID: UInt16 = 26
        let classCode: UInt32 = 0x01_80_00
        let deviceFeatures: UInt64 = VirtioFeatures.version1 | VirtioFeatures.eventIndex
        let queueSizes: [UInt16] = [8]
        /// The front-end's end of the "connection" and the back-end's, which the test closes.
        let ends: [Int32]
        private let lock = NSLock()
        private var _started: [(UInt64, [RemoteQueue])] = []
        private var _lost = 0
        var started: [(UInt64, [RemoteQueue])] { lock.withLock { _started } }
        var lost: Int { lock.withLock { _lost } }

        init() {
            var pair: [Int32] = [-1, -1]
            precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &pair) == 0)
            ends = pair
        }

        deinit { ends.forEach { close($0) } }

        func readConfiguration(offset: Int, size: Int) -> UInt64 { 0 }
        func start(features: UInt64, queues: [RemoteQueue], memory: GuestMemory) throws {
            lock.withLock { _started.append((features, queues)) }
        }
        var connectionDescriptor: Int32 { ends[0] }
        func connectionLost() { lock.withLock { _lost += 1 } }
    }

    func testQueuesGoToTheBackendAndEventsComeBack() throws {
        let device = StandIn()
        let driver = try VirtioTestDriver(VirtioPCITransport(name: "stand-in", device: device))
        XCTAssertTrue(driver.machine.memory.regions.allSatisfy { $0.kind != .ram || $0.sharedFile != nil }, "RAM is a memfd")
        XCTAssertEqual(driver.offeredFeatures, device.deviceFeatures, "the device's offer, nothing of the transport's own")
        try driver.start(features: VirtioFeatures.version1)
        XCTAssertEqual(device.started.count, 1)
        let (features, queues) = try XCTUnwrap(device.started.first)
        XCTAssertEqual(features, VirtioFeatures.version1)
        XCTAssertEqual(queues.count, 1)
        let queue = try XCTUnwrap(queues.first)
        XCTAssertEqual([queue.descriptorTable, queue.availableRing, queue.usedRing],
                       [VirtioTestDriver.descriptorTable, VirtioTestDriver.availableRing, VirtioTestDriver.usedRing])
        XCTAssertEqual(queue.size, driver.queueSize)

        // The kick is queue 0's doorbell, every ring of it left for the back-end (as the Soft CPU
        // or KVM's ioeventfd rings it), and a notification write the doorbell did not catch too.
        let doorbell = try XCTUnwrap(driver.transport.doorbells.first)
        XCTAssertEqual(queue.kick, doorbell.event.fileDescriptor)
        for _ in 0..<2 { XCTAssertTrue(driver.machine.mmio.doorbells.ring(try XCTUnwrap(doorbell.address), size: 2, value: 0)) }
        driver.machine.mmio.write(driver.bar0 + 0x3000, size: 1, value: 0, vcpu: 0)
        var count: UInt64 = 0
        XCTAssertEqual(read(queue.kick, &count, 8), 8)
        XCTAssertEqual(count, 3)

        // The back-end's call: the queue's vector.
        var one: UInt64 = 1
        XCTAssertEqual(write(queue.call, &one, 8), 8)
        XCTAssertTrue(driver.waitUntil { driver.recorder.sentMessages.count >= 1 })
        XCTAssertEqual(driver.recorder.sentMessages.first, MSIMessage(address: VirtioTestDriver.msiAddress, data: VirtioTestDriver.queueData))
        XCTAssertEqual(driver.status & 0x40, 0)

        // The back-end goes away: NEEDS_RESET and the configuration vector, said once.
        close(device.ends[1])
        XCTAssertTrue(driver.waitUntil { driver.status & 0x40 != 0 })
        XCTAssertTrue(driver.waitUntil { driver.recorder.sentMessages.contains(
            MSIMessage(address: VirtioTestDriver.msiAddress, data: VirtioTestDriver.configurationData)) })
        XCTAssertEqual(device.lost, 1)
    }

    func testErrorEventNeedsReset() throws {
        let device = StandIn()
        let driver = try VirtioTestDriver(VirtioPCITransport(name: "stand-in", device: device))
        try driver.start(features: VirtioFeatures.version1)
        let queue = try XCTUnwrap(device.started.first?.1.first)
        var one: UInt64 = 1
        XCTAssertEqual(write(queue.error, &one, 8), 8)
        XCTAssertTrue(driver.waitUntil { driver.status & 0x40 != 0 })
        XCTAssertEqual(device.lost, 0)
    }
}
