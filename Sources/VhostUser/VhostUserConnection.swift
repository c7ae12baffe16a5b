/// The front-end's session with one back-end over a `VhostUserSocket`: requests out, replies in,
/// each reply checked against what was asked (header, request type, exact payload size) before a
/// byte of it is used. With REPLY_ACK negotiated every request that has no reply of its own asks
/// for an acknowledgement, so a back-end's refusal surfaces at the request that caused it.
/// Not thread-safe: its owner serializes requests.
public final class VhostUserConnection {
    public let socket: VhostUserSocket
    /// The protocol features both sides use, once `setProtocolFeatures` ran.
    public private(set) var protocolFeatures: UInt64 = 0

    public init(socket: VhostUserSocket) {
        self.socket = socket
    }

    // MARK: requests

    public func getFeatures() throws(VhostUserError) -> UInt64 {
        try VhostUserPayload.u64(of: call(.getFeatures), for: .getFeatures)
    }

    public func setFeatures(_ features: UInt64) throws(VhostUserError) {
        try send(.setFeatures, payload: VhostUserPayload.u64(features))
    }

    public func getProtocolFeatures() throws(VhostUserError) -> UInt64 {
        try VhostUserPayload.u64(of: call(.getProtocolFeatures), for: .getProtocolFeatures)
    }

    /// Agrees on `features`; REPLY_ACK among them applies from the next request on.
    public func setProtocolFeatures(_ features: UInt64) throws(VhostUserError) {
        try send(.setProtocolFeatures, payload: VhostUserPayload.u64(features))
        protocolFeatures = features
    }

    public func setOwner() throws(VhostUserError) { try send(.setOwner) }

    public func getQueueNumber() throws(VhostUserError) -> UInt64 {
        try VhostUserPayload.u64(of: call(.getQueueNumber), for: .getQueueNumber)
    }

    /// The memory table, each region's file descriptor in the same order ("SET_MEM_TABLE").
    public func setMemoryTable(_ regions: [VhostUserPayload.MemoryRegion], descriptors: [Int32]) throws(VhostUserError) {
        guard regions.count <= VhostUserPayload.largestRegionCount else { throw .tooManyMemoryRegions(regions.count) }
        try send(.setMemoryTable, payload: VhostUserPayload.memoryTable(regions), descriptors: descriptors)
    }

    public func setVringNumber(_ index: UInt32, size: UInt32) throws(VhostUserError) {
        try send(.setVringNumber, payload: VhostUserPayload.vringState(index: index, number: size))
    }

    public func setVringBase(_ index: UInt32, availableIndex: UInt32) throws(VhostUserError) {
        try send(.setVringBase, payload: VhostUserPayload.vringState(index: index, number: availableIndex))
    }

    /// The ring's three parts at addresses in vmm's address space.
    public func setVringAddress(_ index: UInt32, descriptorTable: UInt64, availableRing: UInt64, usedRing: UInt64) throws(VhostUserError) {
        try send(.setVringAddress, payload: VhostUserPayload.vringAddress(
            index: index, descriptorTable: descriptorTable, usedRing: usedRing, availableRing: availableRing))
    }

    /// SET_VRING_KICK, _CALL or _ERR: the ring's index with `eventDescriptor` attached.
    public func setVringEvent(_ request: VhostUserRequest, _ index: UInt32, eventDescriptor: Int32) throws(VhostUserError) {
        try send(request, payload: VhostUserPayload.u64(UInt64(index) & VhostUserPayload.vringIndexMask),
                 descriptors: [eventDescriptor])
    }

    public func setVringEnable(_ index: UInt32, _ enabled: Bool) throws(VhostUserError) {
        try send(.setVringEnable, payload: VhostUserPayload.vringState(index: index, number: enabled ? 1 : 0))
    }

    /// Stops the ring and returns the next available index it would have read.
    public func getVringBase(_ index: UInt32) throws(VhostUserError) -> UInt32 {
        try VhostUserPayload.vringNumber(of: call(.getVringBase, payload: VhostUserPayload.vringState(index: index, number: 0)),
                                         index: index)
    }

    /// `size` bytes of the device configuration space from `offset`.
    public func getConfiguration(offset: UInt32, size: UInt32) throws(VhostUserError) -> [UInt8] {
        try VhostUserPayload.configurationBytes(
            of: call(.getConfiguration, payload: VhostUserPayload.configuration(offset: offset, size: size)),
            offset: offset, size: size)
    }

    // MARK: messages

    /// Sends a request that has no reply of its own; with REPLY_ACK, waits for its zero status.
    private func send(_ request: VhostUserRequest, payload: [UInt8] = [], descriptors: [Int32] = []) throws(VhostUserError) {
        let acknowledged = protocolFeatures & VhostUserProtocolFeatures.replyAck != 0
        try socket.send(VhostUserMessage(request, payload: payload, needReply: acknowledged).encoded, descriptors: descriptors)
        guard acknowledged else { return }
        let status = try VhostUserPayload.u64(of: reply(to: request), for: request)
        guard status == 0 else { throw .requestFailed(request: request.rawValue, status: status) }
    }

    /// Sends a request that the back-end answers, and returns the answer's payload.
    private func call(_ request: VhostUserRequest, payload: [UInt8] = []) throws(VhostUserError) -> [UInt8] {
        try socket.send(VhostUserMessage(request, payload: payload).encoded)
        return try reply(to: request)
    }

    /// Reads one reply to `request`: a header that fits, then exactly the payload it announces.
    private func reply(to request: VhostUserRequest) throws(VhostUserError) -> [UInt8] {
        let header = VhostUserMessage.Header(try socket.receive(VhostUserMessage.headerSize, answering: request.rawValue))
        try header.check(answering: request)
        guard header.size > 0 else { return [] }
        return try socket.receive(Int(header.size), answering: request.rawValue)
    }
}
