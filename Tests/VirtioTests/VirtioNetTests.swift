import TestSupport
import Virtio
import VirtioNet
import VMMKit
import XCTest

/// The network device's queues (virtio 1.2, 5.1.6) against a driver in the test and a fake host
/// link: what a transmit chain sends, what a receive chain gets, a frame too big for its buffer, a
/// guest with no receive buffers, and the configuration the driver reads.
final class VirtioNetTests: XCTestCase {
    typealias D = DriverSide
    static let header = VirtioNet.headerSize

    private let endpoint = FakeFrameEndpoint()
    private lazy var device = VirtioNet(endpoint: endpoint, mac: try! MACAddress(parsing: "52:54:00:01:02:03"))

    private func frame(_ length: Int, first: UInt8 = 0) -> [UInt8] { (0..<length).map { UInt8(truncatingIfNeeded: Int(first) + $0) } }

    func testTransmitSendsTheFrameAfterItsHeader() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        let sent = frame(60, first: 7)
        // The header and the frame apart, then together in one buffer (Linux's usual layout).
        try driver.memory.write([UInt8](repeating: 0, count: Self.header), at: D.buffers)
        try driver.memory.write(sent, at: D.buffers + 0x100)
        try driver.descriptor(0, address: D.buffers, length: UInt32(Self.header), flags: D.next, next: 1)
        try driver.descriptor(1, address: D.buffers + 0x100, length: 60)
        try driver.memory.write([UInt8](repeating: 0, count: Self.header) + sent, at: D.buffers + 0x1000)
        try driver.descriptor(2, address: D.buffers + 0x1000, length: UInt32(Self.header + 60))
        try driver.offer(0)
        try driver.offer(2)
        XCTAssertTrue(device.process(queue, index: VirtioNet.transmitQueue))
        XCTAssertEqual(endpoint.sent, [sent, sent])
        XCTAssertEqual(driver.usedIndex, 2)
        XCTAssertEqual(try driver.usedEntry(0).length, 0, "nothing written into a transmit chain")
        XCTAssertEqual(try driver.usedEntry(1).id, 2)
    }

    func testTransmitChainWithoutAFrameSendsNothing() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        try driver.descriptor(0, address: D.buffers, length: UInt32(Self.header))
        try driver.offer(0)
        XCTAssertTrue(device.process(queue, index: VirtioNet.transmitQueue))
        XCTAssertEqual(endpoint.sent, [])
        XCTAssertEqual(driver.usedIndex, 1, "completed all the same")
    }

    /// A receive buffer gets virtio_net_hdr_v1 (all zero but num_buffers = 1) and the frame.
    func testReceiveWritesTheHeaderAndTheFrame() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        try driver.descriptor(0, address: D.buffers, length: 1526, flags: D.write)
        try driver.offer(0)
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue), "nothing from the host yet")
        XCTAssertEqual(driver.usedIndex, 0, "the buffer waits for a frame")
        let received = frame(1514, first: 3)
        endpoint.deliver(received)
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue))
        XCTAssertEqual(driver.usedIndex, 1)
        XCTAssertEqual(try driver.usedEntry(0).length, UInt32(Self.header + 1514))
        XCTAssertEqual(try driver.memory.readBytes(at: D.buffers, count: Self.header), [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0])
        XCTAssertEqual(try driver.memory.readBytes(at: D.buffers + UInt64(Self.header), count: 1514), received)
    }

    /// Without mergeable buffers a frame must fit one chain: a bigger one is dropped, its chain
    /// returned empty, and the next frame goes into the next chain.
    func testFrameLargerThanTheBufferIsDropped() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        try driver.descriptor(0, address: D.buffers, length: 100, flags: D.write)
        try driver.descriptor(1, address: D.buffers + 0x1000, length: 100, flags: D.write)
        try driver.offer(0)
        try driver.offer(1)
        endpoint.deliver(frame(200))
        endpoint.deliver(frame(80, first: 9))
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue))
        XCTAssertEqual(driver.usedIndex, 2)
        XCTAssertEqual(try driver.usedEntry(0).length, 0, "the 200-byte frame did not fit")
        XCTAssertEqual(try driver.usedEntry(1).length, UInt32(Self.header + 80))
        XCTAssertEqual(try driver.memory.readBytes(at: D.buffers + 0x1000 + UInt64(Self.header), count: 80), frame(80, first: 9))
    }

    /// With no receive buffer the device holds one frame, stops reading the host (the frames
    /// behind it stay there), and delivers in order once buffers come.
    func testNoReceiveBuffersHoldsTheFrameAndStopsReading() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        XCTAssertTrue(device.wantsHostInput)
        for index in 0..<3 { endpoint.deliver(frame(64, first: UInt8(index))) }
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue))
        XCTAssertFalse(device.wantsHostInput, "nowhere to put the frame: the host is not read")
        XCTAssertEqual(endpoint.waiting, 2, "one frame taken and held")
        let calls = endpoint.receiveCalls
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue), "a doorbell with still no buffer")
        XCTAssertEqual(endpoint.receiveCalls, calls, "the host is not read while the frame waits")
        for index in 0..<3 {
            try driver.descriptor(index, address: D.buffers + UInt64(index) * 0x1000, length: 1526, flags: D.write)
            try driver.offer(UInt16(index))
        }
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue))
        XCTAssertEqual(driver.usedIndex, 3)
        for index in 0..<3 {
            XCTAssertEqual(try driver.memory.readBytes(at: D.buffers + UInt64(index) * 0x1000 + UInt64(Self.header), count: 64),
                           frame(64, first: UInt8(index)), "frame \(index) in order")
        }
        XCTAssertTrue(device.wantsHostInput)
    }

    func testResetDropsTheHeldFrameAndAClosedLinkIsNotRead() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        endpoint.deliver(frame(64))
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue))
        XCTAssertFalse(device.wantsHostInput)
        device.reset()
        XCTAssertTrue(device.wantsHostInput, "the held frame belonged to the old rings")
        endpoint.hangUp()
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue))
        XCTAssertFalse(device.wantsHostInput, "nothing more comes from a closed link")
        try driver.descriptor(0, address: D.buffers, length: 1526, flags: D.write)
        try driver.offer(0)
        XCTAssertTrue(device.process(queue, index: VirtioNet.receiveQueue))
        XCTAssertEqual(driver.usedIndex, 0)
    }

    func testBrokenReceiveRingNeedsAReset() throws {
        let driver = try DriverSide()
        let queue = try driver.queue()
        try driver.setAvailableIndex(100)
        endpoint.deliver(frame(64))
        XCTAssertFalse(device.process(queue, index: VirtioNet.receiveQueue), "the available index jumped past the size")
    }

    /// struct virtio_net_config (5.1.4): the MAC, the link up, one queue pair; MAC and STATUS offered.
    func testConfigurationAndFeatures() throws {
        XCTAssertEqual(device.readConfiguration(offset: 0, size: 4), 0x0100_5452)
        XCTAssertEqual(device.readConfiguration(offset: 4, size: 2), 0x0302)
        XCTAssertEqual(device.readConfiguration(offset: 6, size: 2), 1, "VIRTIO_NET_S_LINK_UP")
        XCTAssertEqual(device.readConfiguration(offset: 8, size: 2), 1, "max_virtqueue_pairs")
        XCTAssertEqual(device.deviceFeatures, 1 << 5 | 1 << 16)
        XCTAssertEqual(device.deviceID, 1)
        XCTAssertEqual(device.queueSizes.count, 2)
    }

    func testMACAddressParsing() throws {
        XCTAssertEqual(try MACAddress(parsing: "52:54:00:AB:cd:0e").description, "52:54:00:ab:cd:0e")
        XCTAssertEqual(MACAddress.standard.description, "52:54:00:12:34:56")
        for bad in ["52:54:00:12:34", "52:54:00:12:34:56:78", "52-54-00-12-34-56", "52:54:00:12:34:5g", "5:54:00:12:34:56", ""] {
            XCTAssertThrowsError(try MACAddress(parsing: bad), bad) { XCTAssertEqual($0 as? MACAddressError, .malformed(bad)) }
        }
        XCTAssertThrowsError(try MACAddress(parsing: "01:00:5e:00:00:01")) {
            XCTAssertEqual($0 as? MACAddressError, .multicast("01:00:5e:00:00:01"))
        }
    }
}
