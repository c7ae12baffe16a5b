#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VhostUser
import Virtio
import VirtioPCI
import VMMKit

/// A virtio device whose queues a vhost-user back-end serves (QEMU's docs/interop/vhost-user.rst).
/// Connecting and the features are settled when the device is made, so an absent socket or an
/// unsuitable back-end stops vmm at start; the transport calls `start` when the driver sets
/// DRIVER_OK, and `reset` (GET_VRING_BASE on every started ring) when it resets the device or
/// vmm ends. A back-end that fails or goes away while the guest runs fails the device with one
/// line on stderr; vmm runs on.
public final class VhostUserDevice: RemoteVirtioDevice, @unchecked Sendable {
    /// The transport's bits vmm passes on when the back-end has them (virtio 1.2, 6).
    static let transportFeatures = VirtioFeatures.version1 | VirtioFeatures.indirectDescriptors | VirtioFeatures.eventIndex
    /// The protocol features vmm uses when the back-end has them.
    static let usefulProtocolFeatures = VhostUserProtocolFeatures.replyAck | VhostUserProtocolFeatures.configuration
        | VhostUserProtocolFeatures.multipleQueues

    private struct Session {
        /// The rings handed to the back-end since the last start.
        var started: [Int] = []
        /// The back-end failed; nothing more is sent, nothing more reported.
        var failed = false
    }

    public let profile: VhostUserDeviceProfile
    public let socketPath: String
    public var deviceID: UInt16 { profile.deviceID }
    public var classCode: UInt32 { profile.classCode }
    public let deviceFeatures: UInt64
    public let queueSizes: [UInt16]
    public let configuration: [UInt8]
    /// The back-end's own feature bits; VHOST_USER_F_PROTOCOL_FEATURES among them is echoed in
    /// every SET_FEATURES.
    private let backendFeatures: UInt64
    private let connection: VhostUserConnection
    private let session = Mutex(Session())

    /// Connects to the back-end listening at `socketPath` and agrees on what the device is.
    public convenience init(_ profile: VhostUserDeviceProfile, socketPath: String) throws(VhostUserError) {
        try self.init(profile, socketPath: socketPath, socket: VhostUserSocket(connectingTo: socketPath))
    }

    /// Agrees with the back-end on `socket` on what the device is; `socketPath` names it in messages.
    public init(_ profile: VhostUserDeviceProfile, socketPath: String, socket: VhostUserSocket) throws(VhostUserError) {
        self.profile = profile
        self.socketPath = socketPath
        connection = VhostUserConnection(socket: socket)
        backendFeatures = try connection.getFeatures()
        guard backendFeatures & VirtioFeatures.version1 != 0 else { throw .missingFeature("VIRTIO_F_VERSION_1") }
        if backendFeatures & VhostUserFeatures.protocolFeatures != 0 {
            let offered = try connection.getProtocolFeatures()
            try connection.setProtocolFeatures(offered & Self.usefulProtocolFeatures)
        }
        try connection.setOwner()
        switch profile.configuration {
        case let .fixed(bytes):
            configuration = bytes
        case let .fromBackend(size):
            guard connection.protocolFeatures & VhostUserProtocolFeatures.configuration != 0 else {
                throw .missingFeature("VHOST_USER_PROTOCOL_F_CONFIG (the device configuration)")
            }
            configuration = try connection.getConfiguration(offset: 0, size: size)
        }
        deviceFeatures = backendFeatures & (Self.transportFeatures | profile.deviceFeatures)
        let queueCount = profile.queueCount(configuration, deviceFeatures)
        var limit = VhostUserDeviceProfile.largestQueueCount
        if connection.protocolFeatures & VhostUserProtocolFeatures.multipleQueues != 0 {
            limit = min(limit, Int(clamping: try connection.getQueueNumber()))
        }
        guard queueCount >= 1, queueCount <= limit else { throw .badQueueCount(queueCount, limit: limit) }
        queueSizes = Array(repeating: profile.queueSize, count: queueCount)
    }

    public func readConfiguration(offset: Int, size: Int) -> UInt64 {
        Self.field(of: configuration, offset: offset, size: size)
    }

    public var connectionDescriptor: Int32 { connection.socket.descriptor }

    // MARK: the back-end's rings

    public func start(features: UInt64, queues: [RemoteQueue], memory: GuestMemory) throws {
        try session.withLock { (session: inout Session) throws in
            guard !session.failed else { throw VhostUserError.connectionClosed }
            do {
                try connection.setFeatures(features | backendFeatures & VhostUserFeatures.protocolFeatures)
                try setMemoryTable(memory)
                for queue in queues { try startRing(queue, memory: memory) }
                if backendFeatures & VhostUserFeatures.protocolFeatures != 0 {
                    // Rings start disabled when protocol features are in use ("Ring states").
                    for queue in queues { try connection.setVringEnable(UInt32(queue.index), true) }
                }
                session.started = queues.map(\.index)
            } catch {
                fail(&session, error)
                throw error
            }
        }
    }

    /// Tells the back-end where guest RAM is: every RAM region's memfd, mapped from offset 0, at
    /// the host address vmm maps it at (the "user address" rings are given in).
    private func setMemoryTable(_ memory: GuestMemory) throws(VhostUserError) {
        let ram = memory.regions.filter { $0.kind == .ram }
        var regions: [VhostUserPayload.MemoryRegion] = []
        var files: [Int32] = []
        for region in ram {
            guard let file = region.sharedFile else { throw .memoryNotShared(region.name) }
            regions.append(.init(guestAddress: region.guestBase, size: region.size,
                                 userAddress: UInt64(UInt(bitPattern: region.host)), mmapOffset: 0))
            files.append(file)
        }
        try connection.setMemoryTable(regions, descriptors: files)
    }

    /// One ring: its size, a fresh start at index 0, its parts at vmm's addresses, its eventfds.
    private func startRing(_ queue: RemoteQueue, memory: GuestMemory) throws(VhostUserError) {
        let size = Int(queue.size)
        let index = UInt32(queue.index)
        guard let table = memory.hostPointer(at: queue.descriptorTable, length: 16 * size),
              let available = memory.hostPointer(at: queue.availableRing, length: 6 + 2 * size),
              let used = memory.hostPointer(at: queue.usedRing, length: 6 + 8 * size) else {
            throw .ringOutsideMemory(queue: queue.index)
        }
        func address(_ pointer: UnsafeMutableRawPointer) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }
        try connection.setVringNumber(index, size: UInt32(size))
        try connection.setVringBase(index, availableIndex: 0)
        try connection.setVringAddress(index, descriptorTable: address(table), availableRing: address(available),
                                       usedRing: address(used))
        try connection.setVringEvent(.setVringKick, index, eventDescriptor: queue.kick)
        try connection.setVringEvent(.setVringCall, index, eventDescriptor: queue.call)
        try connection.setVringEvent(.setVringError, index, eventDescriptor: queue.error)
    }

    /// The driver reset the device, or the machine did: every started ring is stopped.
    public func reset() {
        session.withLock { session in
            guard !session.failed, !session.started.isEmpty else { return }
            do {
                for index in session.started {
                    if backendFeatures & VhostUserFeatures.protocolFeatures != 0 {
                        try connection.setVringEnable(UInt32(index), false)
                    }
                    _ = try connection.getVringBase(UInt32(index))
                }
                session.started = []
            } catch {
                fail(&session, error)
            }
        }
    }

    public func stop() { reset() }

    public func connectionLost() {
        session.withLock { fail(&$0, VhostUserError.connectionClosed) }
    }

    /// The back-end is no use any more: said once on stderr.
    private func fail(_ session: inout Session, _ error: any Error) {
        guard !session.failed else { return }
        session.failed = true
        var line = "vmm: \(profile.name) (\(socketPath)) failed: \(error); the guest sees the device need a reset\n"
        line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
