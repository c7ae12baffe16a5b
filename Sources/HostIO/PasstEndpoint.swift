#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// A network link through passt (https://passt.top, Debian's `passt`): a UNIX stream socket on
/// which each Ethernet frame, both ways, is preceded by its length as a 32-bit big-endian number,
/// the framing of QEMU's `-netdev stream` (and its older `-net socket`) that passt speaks.
///
/// Received bytes are gathered in a buffer of two frames' room and cut into frames, so one read
/// may bring several frames or part of one. Sending waits for the socket to take the whole frame
/// (half a frame would break the stream), up to a few seconds; a send error or a passt stuck that
/// long ends sending.
public final class PasstEndpoint: FrameEndpoint, @unchecked Sendable {
    static let lengthSize = 4
    static let stuckMilliseconds: Int32 = 5000

    public let path: String
    public let descriptor: Int32
    private let frameLimit: Int
    private let inbox: UnsafeMutableRawBufferPointer
    /// The bytes in `inbox` not yet taken: inbox[start..<end].
    private var start = 0
    private var end = 0
    private var failed = false
    /// Sending's length prefix and its two-part vector, allocated once.
    private let prefix = UnsafeMutableRawPointer.allocate(byteCount: 4, alignment: 4)
    private let parts = UnsafeMutablePointer<iovec>.allocate(capacity: 2)

    /// Connects to passt's socket at `path`; frames longer than `frameLimit` end the link.
    public init(connectingTo path: String, frameLimit: Int) throws(NetworkEndpointError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else { throw .badSocketPath(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else { throw .cannotConnect(path, errno: errno) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard connected == 0 else {
            let error = errno
            Glibc.close(descriptor)
            throw .cannotConnect(path, errno: error)
        }
        _ = fcntl(descriptor, F_SETFL, O_NONBLOCK)
        self.path = path
        self.descriptor = descriptor
        self.frameLimit = frameLimit
        inbox = .allocate(byteCount: 2 * (Self.lengthSize + frameLimit), alignment: 16)
    }

    deinit {
        inbox.deallocate()
        prefix.deallocate()
        parts.deallocate()
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> FrameReceipt {
        while true {
            if end - start >= Self.lengthSize {
                let length = Int(UInt32(bigEndian: inbox.loadUnaligned(fromByteOffset: start, as: UInt32.self)))
                guard length <= frameLimit, length <= buffer.count else { return .closed }
                if end - start >= Self.lengthSize + length {
                    buffer.baseAddress!.copyMemory(from: inbox.baseAddress! + start + Self.lengthSize, byteCount: length)
                    start += Self.lengthSize + length
                    return .frame(length)
                }
            }
            // Not a whole frame yet: keep the part at the front and read more behind it.
            if start > 0 {
                (inbox.baseAddress!).copyMemory(from: inbox.baseAddress! + start, byteCount: end - start)
                (start, end) = (0, end - start)
            }
            let got = read(descriptor, inbox.baseAddress! + end, inbox.count - end)
            if got > 0 {
                end += got
            } else if got < 0 && errno == EINTR {
                continue
            } else {
                return got < 0 && errno == EAGAIN ? .none : .closed
            }
        }
    }

    /// The length prefix and the frame, in one sendmsg where the socket has room.
    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer) -> Bool {
        guard !failed else { return false }
        prefix.storeBytes(of: UInt32(frame.count).bigEndian, as: UInt32.self)
        parts[0] = iovec(iov_base: prefix, iov_len: Self.lengthSize)
        parts[1] = iovec(iov_base: UnsafeMutableRawPointer(mutating: frame.baseAddress), iov_len: frame.count)
        var first = 0
        while first < 2 {
            var message = msghdr()
            message.msg_iov = parts + first
            message.msg_iovlen = 2 - first
            // MSG_NOSIGNAL: passt exiting is an error here, not a SIGPIPE ending vmm.
            let sent = sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                guard errno == EINTR || errno == EAGAIN else { return fail() }
                // A passt that takes nothing for this long is stuck: giving up on the link keeps
                // the device thread (and vmm's exit, which joins it) from waiting forever.
                var wait = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                if poll(&wait, 1, Self.stuckMilliseconds) == 0 { return fail() }
                continue
            }
            var left = sent
            while first < 2 && left >= parts[first].iov_len {
                left -= parts[first].iov_len
                first += 1
            }
            if left > 0 {
                parts[first].iov_base += left
                parts[first].iov_len -= left
            }
        }
        return true
    }

    /// Sending stops for good: part of a frame may be in the stream, which cannot be resumed.
    private func fail() -> Bool {
        failed = true
        return false
    }

    public func close() { Glibc.close(descriptor) }
}
