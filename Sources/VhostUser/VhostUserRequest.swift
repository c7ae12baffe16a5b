/// The front-end's request types that vmm sends (QEMU's docs/interop/vhost-user.rst, "Front-end
/// message types"; the numbers are the protocol's).
public enum VhostUserRequest: UInt32, Sendable {
    case getFeatures = 1
    case setFeatures = 2
    case setOwner = 3
    case setMemoryTable = 5
    case setVringNumber = 8
    case setVringAddress = 9
    case setVringBase = 10
    case getVringBase = 11
    case setVringKick = 12
    case setVringCall = 13
    case setVringError = 14
    case getProtocolFeatures = 15
    case setProtocolFeatures = 16
    case getQueueNumber = 17
    case setVringEnable = 18
    case getConfiguration = 24
}

/// Protocol feature bits ("Protocol features"): the ones vmm knows how to use.
public enum VhostUserProtocolFeatures {
    /// The back-end says how many queues it has (GET_QUEUE_NUM).
    public static let multipleQueues: UInt64 = 1 << 0
    /// A request with need_reply set is answered with a u64, zero for success.
    public static let replyAck: UInt64 = 1 << 3
    /// GET_CONFIG reads the device configuration space from the back-end.
    public static let configuration: UInt64 = 1 << 9
}

/// Virtio feature bit 30, reused by vhost-user: the back-end speaks GET/SET_PROTOCOL_FEATURES
/// (and its rings start disabled, enabled by SET_VRING_ENABLE: "Ring states").
public enum VhostUserFeatures {
    public static let protocolFeatures: UInt64 = 1 << 30
}
