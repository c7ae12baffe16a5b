/// One vhost-user message: a 12-byte header (request, flags, payload size; native byte order,
/// which on x86 is little-endian) and the payload ("Message Specification").
public struct VhostUserMessage: Equatable, Sendable {
    public static let headerSize = 12
    /// Bits 0-1 of flags: the protocol version, 1.
    static let version: UInt32 = 0x1
    static let versionMask: UInt32 = 0x3
    /// Set on every back-end reply.
    static let replyFlag: UInt32 = 1 << 2
    /// The front-end asks for a REPLY_ACK answer.
    static let needReplyFlag: UInt32 = 1 << 3
    /// The largest payload vmm reads: a memory table of eight regions is 8 + 8 * 32 bytes and a
    /// configuration reply at most 12 + 256 (QEMU's VHOST_USER_MAX_CONFIG_SIZE), so anything
    /// larger is a back-end gone wrong.
    public static let largestPayload = 512

    public var request: UInt32
    public var flags: UInt32
    public var payload: [UInt8]

    public init(request: UInt32, flags: UInt32, payload: [UInt8]) {
        self.request = request
        self.flags = flags
        self.payload = payload
    }

    /// A front-end request, version 1, asking for an acknowledgement when `needReply`.
    public init(_ request: VhostUserRequest, payload: [UInt8] = [], needReply: Bool = false) {
        self.init(request: request.rawValue, flags: Self.version | (needReply ? Self.needReplyFlag : 0), payload: payload)
    }

    /// Header and payload as they go on the socket.
    public var encoded: [UInt8] {
        VhostUserPayload.words([request, flags, UInt32(payload.count)]) + payload
    }

    /// The header's three fields; the payload's size is checked by the caller before reading it.
    public struct Header: Equatable, Sendable {
        public let request: UInt32
        public let flags: UInt32
        public let size: UInt32

        public init(_ bytes: [UInt8]) {
            precondition(bytes.count == VhostUserMessage.headerSize)
            request = VhostUserPayload.word(bytes, at: 0)
            flags = VhostUserPayload.word(bytes, at: 4)
            size = VhostUserPayload.word(bytes, at: 8)
        }

        /// Whether this header answers `request`: version 1, the reply flag, the same request
        /// type, and a payload no larger than vmm reads.
        public func check(answering request: VhostUserRequest) throws(VhostUserError) {
            guard flags & VhostUserMessage.versionMask == VhostUserMessage.version else { throw .badReplyVersion(flags) }
            guard flags & VhostUserMessage.replyFlag != 0 else { throw .notAReply(self.request) }
            guard self.request == request.rawValue else { throw .replyToOtherRequest(sent: request.rawValue, got: self.request) }
            guard size <= VhostUserMessage.largestPayload else { throw .replyTooLarge(size) }
        }
    }
}
