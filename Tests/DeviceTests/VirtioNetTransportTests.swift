import Foundation
import TestSupport
import VirtioNet
import VirtioPCI
import VMMKit
import XCTest

/// virtio-net behind the PCI transport: its device thread waits on the host link's descriptor as
/// well as on doorbells. Queue 0, the one VirtioTestDriver sets up, is the receive queue.
final class VirtioNetTransportTests: XCTestCase {
    private let endpoint = FakeFrameEndpoint()

    private func driver() throws -> VirtioTestDriver {
        let driver = try VirtioTestDriver(VirtioPCITransport(name: "virtio-net", device: VirtioNet(endpoint: endpoint)),
                                          queueSize: 8)
        try driver.start()
        return driver
    }

    private func receiveBuffer(_ driver: VirtioTestDriver, _ index: Int) throws {
        try driver.descriptor(index, address: VirtioTestDriver.buffers + UInt64(index) * 0x1000, length: 1526, flags: 2)
    }

    /// A frame arriving with no doorbell: the thread wakes on the link, fills the waiting buffer
    /// and sends the queue's vector.
    func testFrameFromTheHostWakesTheDeviceThread() throws {
        let driver = try driver()
        try receiveBuffer(driver, 0)
        try driver.offer(0)
        endpoint.deliver([UInt8](repeating: 0xAA, count: 60))
        XCTAssertTrue(driver.waitUntil { driver.usedIndex == 1 }, "the frame reached the guest's buffer")
        XCTAssertTrue(driver.waitUntil { driver.recorder.sentMessages.contains { $0.data == VirtioTestDriver.queueData } })
        XCTAssertEqual(try driver.machine.memory.readBytes(at: VirtioTestDriver.buffers + UInt64(VirtioNet.headerSize), count: 60),
                       [UInt8](repeating: 0xAA, count: 60))
    }

    /// The link is not read before the driver's first doorbell; with no receive buffer the thread
    /// then takes one frame and leaves the link alone (it does not spin on a readable descriptor);
    /// the guest's doorbell with buffers resumes receiving.
    func testNoReceiveBufferStopsWatchingTheLinkUntilTheDoorbell() throws {
        let driver = try driver()
        for byte: UInt8 in [1, 2, 3] { endpoint.deliver([UInt8](repeating: byte, count: 60)) }
        // Time for a thread that should not be reading to show itself; the assertions are on
        // counts, not on time.
        usleep(200_000)
        XCTAssertEqual(endpoint.receiveCalls, 0, "no doorbell yet: the link is left alone")
        driver.machine.mmio.write(driver.bar0 + 0x3000, size: 2, value: 0, vcpu: 0)
        XCTAssertTrue(driver.waitUntil { self.endpoint.waiting == 2 }, "one frame taken and held")
        let calls = endpoint.receiveCalls
        usleep(200_000)
        XCTAssertEqual(endpoint.receiveCalls, calls, "the link is not read while the guest has no buffer")
        for index in 0..<3 {
            try receiveBuffer(driver, index)
            try driver.offer(UInt16(index))
        }
        XCTAssertTrue(driver.waitUntil { driver.usedIndex == 3 }, "all three frames delivered after the doorbell")
        for index in 0..<3 {
            let payload = try driver.machine.memory.readBytes(
                at: VirtioTestDriver.buffers + UInt64(index) * 0x1000 + UInt64(VirtioNet.headerSize), count: 1)
            XCTAssertEqual(payload, [UInt8(index + 1)], "frame \(index + 1) in order")
        }
    }
}
