import VMMKit

/// What went wrong talking to a vhost-user back-end: at start each is one line and status 2; while
/// the guest runs, the device fails and vmm says so once.
public enum VhostUserError: VMMError, Equatable {
    /// A `--device` specification lacks a parameter the device cannot do without.
    case missingParameter(device: String, String)
    case socketPathTooLong(String)
    case noSuchSocket(String)
    case connectionRefused(String)
    case connectFailed(String, errno: Int32)
    case socketCall(String, errno: Int32)
    /// The back-end closed the connection (EOF, EPIPE, ECONNRESET).
    case connectionClosed
    case replyTimedOut(request: UInt32, seconds: Double)
    /// The back-end read nothing for the limit while vmm had a message to send.
    case sendTimedOut(seconds: Double)
    case badReplyVersion(UInt32)
    case notAReply(UInt32)
    case replyToOtherRequest(sent: UInt32, got: UInt32)
    case replyTooLarge(UInt32)
    case replySize(request: UInt32, expected: Int, got: Int)
    case replyWithDescriptors(Int)
    case replyForOtherVring(asked: UInt32, got: UInt32)
    case requestFailed(request: UInt32, status: UInt64)
    case configurationRefused
    case configurationMismatch
    case tooManyDescriptors(Int)
    /// The back-end lacks something the device needs (`what` names it).
    case missingFeature(String)
    case badQueueCount(Int, limit: Int)
    case memoryNotShared(String)
    case tooManyMemoryRegions(Int)
    case ringOutsideMemory(queue: Int)

    public var description: String {
        switch self {
        case let .missingParameter(device, parameter): return "device '\(device)' needs \(parameter)"
        case let .socketPathTooLong(path): return "vhost-user: socket path '\(path)' is longer than a UNIX socket address holds"
        case let .noSuchSocket(path): return "vhost-user: no socket at '\(path)' (start the back-end first)"
        case let .connectionRefused(path): return "vhost-user: nothing listens on '\(path)' (connection refused)"
        case let .connectFailed(path, errno): return "vhost-user: could not connect to '\(path)' (errno \(errno))"
        case let .socketCall(call, errno): return "vhost-user: \(call) on the back-end's socket failed (errno \(errno))"
        case .connectionClosed: return "vhost-user: the back-end closed the connection"
        case let .replyTimedOut(request, seconds): return "vhost-user: no reply to request \(request) within \(seconds) s"
        case let .sendTimedOut(seconds): return "vhost-user: the back-end took no message for \(seconds) s"
        case let .badReplyVersion(flags): return "vhost-user: reply with flags 0x\(String(flags, radix: 16)) is not protocol version 1"
        case let .notAReply(request): return "vhost-user: the back-end sent request \(request) where a reply was due"
        case let .replyToOtherRequest(sent, got): return "vhost-user: reply to request \(got) where one to \(sent) was due"
        case let .replyTooLarge(size): return "vhost-user: reply of \(size) bytes is larger than any vmm expects"
        case let .replySize(request, expected, got):
            return "vhost-user: reply to request \(request) has \(got) payload bytes, not \(expected)"
        case let .replyWithDescriptors(count): return "vhost-user: the back-end sent \(count) file descriptor(s) with a reply"
        case let .replyForOtherVring(asked, got): return "vhost-user: reply about vring \(got) where vring \(asked) was asked"
        case let .requestFailed(request, status): return "vhost-user: the back-end refused request \(request) (status \(status))"
        case .configurationRefused: return "vhost-user: the back-end could not give its configuration space (GET_CONFIG)"
        case .configurationMismatch: return "vhost-user: the back-end's configuration reply is for another range"
        case let .tooManyDescriptors(count): return "vhost-user: \(count) file descriptors do not fit one message"
        case let .missingFeature(what): return "vhost-user: the back-end does not offer \(what), which vmm needs"
        case let .badQueueCount(count, limit): return "vhost-user: the back-end's \(count) queues are not between 1 and \(limit)"
        case let .memoryNotShared(region): return "vhost-user: guest \(region) is not shared memory"
        case let .tooManyMemoryRegions(count): return "vhost-user: \(count) memory regions are more than a memory table holds"
        case let .ringOutsideMemory(queue): return "vhost-user: queue \(queue)'s rings are outside guest RAM"
        }
    }
}
