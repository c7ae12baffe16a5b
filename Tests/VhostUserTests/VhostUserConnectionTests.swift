import Glibc
import VhostUser
import VhostUserDevices
import VirtioPCI
import VMMKit
import XCTest

/// The front-end against a back-end the test plays over a socketpair: the requests it sends, in
/// order with their descriptors, and replies a back-end must not send, each of which is an error
/// naming what was wrong, never a trap, a partial read or a hang.
final class VhostUserConnectionTests: XCTestCase {
    static let features: UInt64 = 1 << 32 | 1 << 30 | 1 << 29 | 1 << 28 | 1 << 5
    static let protocolFeatures: UInt64 = VhostUserProtocolFeatures.replyAck | VhostUserProtocolFeatures.configuration

    /// An honest back-end: the features above, a 60-byte configuration, acknowledgements.
    @Sendable static func honest(_ message: FakeBackend.Received) -> (bytes: [UInt8], descriptors: [Int32])? {
        guard let request = VhostUserRequest(rawValue: message.request) else { return nil }
        switch request {
        case .getFeatures: return (FakeBackend.reply(.getFeatures, VhostUserPayload.u64(features)), [])
        case .getProtocolFeatures: return (FakeBackend.reply(.getProtocolFeatures, VhostUserPayload.u64(protocolFeatures)), [])
        case .getConfiguration:
            let configuration = VhostUserPayload.configuration(offset: 0, size: 60)
            var bytes = configuration
            bytes[12] = 0x80  // capacity 128 sectors
            return (FakeBackend.reply(.getConfiguration, bytes), [])
        case .getVringBase: return (FakeBackend.reply(.getVringBase, Array(message.payload.prefix(4)) + [9, 0, 0, 0]), [])
        default:
            // need_reply: a zero status.
            return message.flags & 0x8 != 0 ? (FakeBackend.reply(request, VhostUserPayload.u64(0)), []) : ([], [])
        }
    }

    func testDeviceHandshakeStartAndStop() throws {
        let backend = FakeBackend(answer: Self.honest)
        let memory = GuestMemory()
        try memory.addRegion(name: "RAM", at: 0, size: 1 << 20)
        try memory.shareRAM()
        var device: VhostUserDevice? = try VhostUserDevice(VhostUserBlock.profile,
                                                           socketPath: "", socket: VhostUserSocket(descriptor: backend.frontEnd))
        XCTAssertEqual(device!.configuration[0], 0x80)
        XCTAssertEqual(device!.queueSizes.count, 1)
        // VERSION_1, EVENT_IDX, INDIRECT_DESC and RO passed on; PROTOCOL_FEATURES never offered.
        XCTAssertEqual(device!.deviceFeatures, 1 << 32 | 1 << 29 | 1 << 28 | 1 << 5)
        // Any descriptors stand in for the transport's eventfds.
        let events = (0..<3).map { _ in open("/dev/null", O_RDONLY) }
        let queue = RemoteQueue(index: 0, size: 256, descriptorTable: 0x1000, availableRing: 0x2000, usedRing: 0x3000,
                                kick: events[0], call: events[1], error: events[2])
        try device!.start(features: 1 << 32, queues: [queue], memory: memory)
        device!.reset()
        device = nil
        events.forEach { close($0) }
        let received = backend.received()
        let order: [VhostUserRequest] = [.getFeatures, .getProtocolFeatures, .setProtocolFeatures, .setOwner, .getConfiguration,
                                         .setFeatures, .setMemoryTable, .setVringNumber, .setVringBase, .setVringAddress,
                                         .setVringKick, .setVringCall, .setVringError, .setVringEnable, .setVringEnable, .getVringBase]
        XCTAssertEqual(received.map(\.request), order.map(\.rawValue))
        // SET_FEATURES echoes PROTOCOL_FEATURES; the memory table carries the memfd; each vring
        // event carries its eventfd; the start asked for acknowledgements.
        XCTAssertEqual(received[5].payload, VhostUserPayload.u64(1 << 32 | 1 << 30))
        XCTAssertEqual(received[6].descriptorCount, 1)
        XCTAssertEqual(Array(received[6].payload[0..<4]), [1, 0, 0, 0])
        XCTAssertEqual(received[10...12].map(\.descriptorCount), [1, 1, 1])
        XCTAssertEqual(received[5...].map { $0.flags & 0x8 }.filter { $0 == 0 }.count, 1, "all but GET_VRING_BASE want an ack")
        XCTAssertEqual(received[14].payload, VhostUserPayload.vringState(index: 0, number: 0))
    }

    func testMemoryThatIsNotSharedIsRefused() throws {
        let backend = FakeBackend(answer: Self.honest)
        let memory = GuestMemory()
        try memory.addRegion(name: "RAM", at: 0, size: 1 << 20)
        let device = try VhostUserDevice(VhostUserBlock.profile, socketPath: "", socket: VhostUserSocket(descriptor: backend.frontEnd))
        XCTAssertThrowsError(try device.start(features: 1 << 32, queues: [], memory: memory)) {
            XCTAssertEqual($0 as? VhostUserError, .memoryNotShared("RAM"))
        }
    }

    func testBackendWithoutVersion1IsRefused() throws {
        let backend = FakeBackend { _ in (FakeBackend.reply(.getFeatures, VhostUserPayload.u64(1 << 30)), []) }
        XCTAssertThrowsError(try VhostUserDevice(VhostUserBlock.profile, socketPath: "", socket: VhostUserSocket(descriptor: backend.frontEnd))) {
            XCTAssertEqual($0 as? VhostUserError, .missingFeature("VIRTIO_F_VERSION_1"))
        }
    }

    func testBlockBackendWithoutConfigurationIsRefused() throws {
        let backend = FakeBackend { message in
            message.request == 1 ? (FakeBackend.reply(.getFeatures, VhostUserPayload.u64(1 << 32)), []) : ([], [])
        }
        XCTAssertThrowsError(try VhostUserDevice(VhostUserBlock.profile, socketPath: "", socket: VhostUserSocket(descriptor: backend.frontEnd))) {
            XCTAssertEqual($0 as? VhostUserError, .missingFeature("VHOST_USER_PROTOCOL_F_CONFIG (the device configuration)"))
        }
    }

    /// A GET_FEATURES answered by `reply` (then the connection closes, unless `stayOpen`): the
    /// error it gives.
    private func featuresError(_ reply: [UInt8], descriptors: [Int32] = [], limit: Double = 30, stayOpen: Bool = false) -> VhostUserError? {
        let backend = FakeBackend(once: !stayOpen) { _ in (reply, descriptors) }
        let connection = VhostUserConnection(socket: VhostUserSocket(descriptor: backend.frontEnd, limit: limit))
        do {
            _ = try connection.getFeatures()
            return nil
        } catch {
            return error
        }
    }

    func testHostileReplies() {
        let payload = VhostUserPayload.u64(1 << 32)
        XCTAssertNil(featuresError(FakeBackend.reply(.getFeatures, payload)))
        XCTAssertEqual(featuresError(FakeBackend.reply(.getFeatures, payload, flags: 0x1)), .notAReply(1))
        XCTAssertEqual(featuresError(FakeBackend.reply(.getFeatures, payload, flags: 0x7)), .badReplyVersion(0x7))
        XCTAssertEqual(featuresError(FakeBackend.reply(.getVringBase, payload)), .replyToOtherRequest(sent: 1, got: 11))
        XCTAssertEqual(featuresError(FakeBackend.reply(.getFeatures, [1, 2, 3, 4])), .replySize(request: 1, expected: 8, got: 4))
        XCTAssertEqual(featuresError(FakeBackend.reply(.getFeatures, [UInt8](repeating: 0, count: 600))), .replyTooLarge(600))
        // A header announcing more than it sends, then the end of the connection.
        XCTAssertEqual(featuresError(Array(FakeBackend.reply(.getFeatures, payload).prefix(16))), .connectionClosed)
        XCTAssertEqual(featuresError([1, 0, 0]), .connectionClosed)
        // Descriptors with a reply are closed and refused.
        let spare = open("/dev/null", O_RDONLY)
        XCTAssertEqual(featuresError(FakeBackend.reply(.getFeatures, payload), descriptors: [spare, spare]), .replyWithDescriptors(2))
        close(spare)
    }

    func testBackendThatNeverAnswersTimesOut() {
        // The fake reads the request and sends nothing; a short limit stands in for the 30 s one.
        XCTAssertEqual(featuresError([], limit: 0.2, stayOpen: true), .replyTimedOut(request: 1, seconds: 0.2))
    }

    func testRefusedAcknowledgementNamesTheRequest() throws {
        let backend = FakeBackend { message in
            message.flags & 0x8 != 0 ? (FakeBackend.reply(.setOwner, VhostUserPayload.u64(1)), []) : ([], [])
        }
        let connection = VhostUserConnection(socket: VhostUserSocket(descriptor: backend.frontEnd))
        try connection.setProtocolFeatures(VhostUserProtocolFeatures.replyAck)
        XCTAssertThrowsError(try connection.setOwner()) {
            XCTAssertEqual($0 as? VhostUserError, .requestFailed(request: 3, status: 1))
        }
    }

    func testAbsentSocketAndNoListenerFailAtOnce() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-vhost-\(getpid())").path
        unlink(path)
        XCTAssertThrowsError(try VhostUserSocket(connectingTo: path)) { XCTAssertEqual($0 as? VhostUserError, .noSuchSocket(path)) }
        // A socket file nobody listens on.
        let listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { room in for (i, byte) in path.utf8.enumerated() { room[i] = byte } }
        _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        defer { close(listener); unlink(path) }
        XCTAssertThrowsError(try VhostUserSocket(connectingTo: path)) { XCTAssertEqual($0 as? VhostUserError, .connectionRefused(path)) }
    }
}
