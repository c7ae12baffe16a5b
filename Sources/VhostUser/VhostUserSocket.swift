#if canImport(Glibc)
import Glibc
#endif

/// The front-end's end of a vhost-user UNIX stream socket: messages out with file descriptors in
/// SCM_RIGHTS ancillary data, bytes in with a time limit. The socket is non-blocking and every
/// wait is a poll(2) with the limit, so a back-end that stops answering costs a bounded wait,
/// never a hang; a back-end that goes away is an error (MSG_NOSIGNAL: no SIGPIPE), and any
/// descriptors it sends are closed unread.
public final class VhostUserSocket {
    public let descriptor: Int32
    /// How long a reply (or room to send) may take before the back-end counts as unresponsive.
    public let limit: Double

    /// Connects to the back-end listening at `path`: an absent socket or one nobody listens on
    /// fails at once (a UNIX socket's connect does not wait for the peer to accept).
    public init(connectingTo path: String, limit: Double = 30) throws(VhostUserError) {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else { throw .socketPathTooLong(path) }
        withUnsafeMutableBytes(of: &address.sun_path) { room in
            for (index, byte) in path.utf8.enumerated() { room[index] = byte }
        }
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard socket >= 0 else { throw .socketCall("socket", errno: errno) }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else {
            let failure = errno
            close(socket)
            switch failure {
            case ENOENT: throw .noSuchSocket(path)
            case ECONNREFUSED: throw .connectionRefused(path)
            default: throw .connectFailed(path, errno: failure)
            }
        }
        descriptor = socket
        self.limit = limit
    }

    /// Takes over `descriptor`, an already connected stream socket (a test's socketpair end); it
    /// is made non-blocking.
    public init(descriptor: Int32, limit: Double = 30) {
        self.descriptor = descriptor
        self.limit = limit
        _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK)
    }

    deinit { close(descriptor) }

    /// The size of a cmsghdr, after which SCM_RIGHTS data starts (CMSG_DATA; 8-byte aligned).
    private static let controlHeader = (MemoryLayout<cmsghdr>.size + 7) & ~7

    /// Sends all of `bytes`, with `descriptors` attached to the first byte.
    public func send(_ bytes: [UInt8], descriptors: [Int32] = []) throws(VhostUserError) {
        guard descriptors.count <= VhostUserPayload.largestRegionCount else { throw .tooManyDescriptors(descriptors.count) }
        let dataLength = descriptors.count * MemoryLayout<Int32>.size
        var control = [UInt8](repeating: 0, count: descriptors.isEmpty ? 0 : Self.controlHeader + (dataLength + 7) & ~7)
        if !descriptors.isEmpty {
            control.withUnsafeMutableBytes { room in
                let header = room.baseAddress!.assumingMemoryBound(to: cmsghdr.self)
                header.pointee.cmsg_len = Self.controlHeader + dataLength
                header.pointee.cmsg_level = SOL_SOCKET
                header.pointee.cmsg_type = Int32(SCM_RIGHTS)
                for (index, fd) in descriptors.enumerated() {
                    room.storeBytes(of: fd, toByteOffset: Self.controlHeader + index * 4, as: Int32.self)
                }
            }
        }
        var sent = 0
        let deadline = Deadline(seconds: limit)
        while sent < bytes.count {
            let result: Int = bytes.withUnsafeBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: UnsafeMutableRawPointer(mutating: data.baseAddress! + sent), iov_len: bytes.count - sent)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        // The descriptors travel with the first byte only.
                        if sent == 0, !controlBytes.isEmpty {
                            message.msg_control = controlBytes.baseAddress
                            message.msg_controllen = controlBytes.count
                        }
                        return sendmsg(descriptor, &message, Int32(MSG_NOSIGNAL))
                    }
                }
            }
            if result > 0 { sent += result; continue }
            switch errno {
            case EINTR: continue
            case EAGAIN: try wait(for: Int16(POLLOUT), until: deadline, request: nil)
            case EPIPE, ECONNRESET: throw .connectionClosed
            default: throw .socketCall("sendmsg", errno: errno)
            }
        }
    }

    /// Reads exactly `count` bytes, waiting at most the limit (from the call) for them; `request`
    /// names what the bytes answer, for the time-out's message. Descriptors that arrive are closed
    /// and make it an error: no reply vmm asks for carries any.
    public func receive(_ count: Int, answering request: UInt32) throws(VhostUserError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var got = 0
        let deadline = Deadline(seconds: limit)
        var control = [UInt8](repeating: 0, count: Self.controlHeader + 4 * VhostUserPayload.largestRegionCount)
        while got < count {
            var received = 0
            let result: Int = bytes.withUnsafeMutableBytes { data in
                control.withUnsafeMutableBytes { controlBytes in
                    var vector = iovec(iov_base: data.baseAddress! + got, iov_len: count - got)
                    return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                        var message = msghdr()
                        message.msg_iov = vectorPointer
                        message.msg_iovlen = 1
                        message.msg_control = controlBytes.baseAddress
                        message.msg_controllen = controlBytes.count
                        let result = recvmsg(descriptor, &message, Int32(MSG_CMSG_CLOEXEC))
                        if result >= 0 {
                            received = Self.closeDescriptors(in: controlBytes, length: message.msg_controllen)
                            if message.msg_flags & Int32(MSG_CTRUNC) != 0 { received += 1 }
                        }
                        return result
                    }
                }
            }
            if received > 0 { throw .replyWithDescriptors(received) }
            if result > 0 { got += result; continue }
            if result == 0 { throw .connectionClosed }
            switch errno {
            case EINTR: continue
            case EAGAIN: try wait(for: Int16(POLLIN), until: deadline, request: request)
            case ECONNRESET: throw .connectionClosed
            default: throw .socketCall("recvmsg", errno: errno)
            }
        }
        return bytes
    }

    /// Closes every SCM_RIGHTS descriptor in the first `length` bytes of `control`; returns how many.
    private static func closeDescriptors(in control: UnsafeMutableRawBufferPointer, length: Int) -> Int {
        var offset = 0
        var closed = 0
        while offset + MemoryLayout<cmsghdr>.size <= length {
            let header = control.load(fromByteOffset: offset, as: cmsghdr.self)
            guard header.cmsg_len >= MemoryLayout<cmsghdr>.size, offset + header.cmsg_len <= length else { break }
            if header.cmsg_level == SOL_SOCKET, header.cmsg_type == Int32(SCM_RIGHTS) {
                let count = (header.cmsg_len - controlHeader) / 4
                for index in 0..<count {
                    close(control.load(fromByteOffset: offset + controlHeader + 4 * index, as: Int32.self))
                }
                closed += count
            }
            offset += (header.cmsg_len + 7) & ~7
        }
        return closed
    }

    /// Waits for `events` until `deadline`; `request` is what a reply would answer, nil while sending.
    private func wait(for events: Int16, until deadline: Deadline, request: UInt32?) throws(VhostUserError) {
        var entry = pollfd(fd: descriptor, events: events, revents: 0)
        while true {
            let remaining = deadline.remainingMilliseconds
            guard remaining > 0 else {
                guard let request else { throw .sendTimedOut(seconds: limit) }
                throw .replyTimedOut(request: request, seconds: limit)
            }
            let ready = poll(&entry, 1, remaining)
            if ready > 0 {
                // A hang-up with nothing left to read shows as a zero-byte read next.
                return
            }
            if ready < 0, errno != EINTR { throw .socketCall("poll", errno: errno) }
        }
    }
}
