import Foundation
import Glibc
import VhostUser

/// A back-end played by the test: the other end of a socketpair, on a thread of its own, reading
/// each request the front-end sends (with the descriptors attached) and answering with whatever
/// bytes `answer` returns for it, honest or not.
final class FakeBackend: @unchecked Sendable {
    struct Received: Equatable {
        let request: UInt32
        let flags: UInt32
        let payload: [UInt8]
        let descriptorCount: Int
    }

    /// The front-end's end, for a `VhostUserSocket`.
    let frontEnd: Int32
    private let backEnd: Int32
    private let lock = NSLock()
    private var log: [Received] = []
    private let finished = DispatchSemaphore(value: 0)

    /// `answer` gives the bytes (and descriptors) to send back for a request, or nil to close the
    /// connection instead; `once`: the connection is closed after the first answer.
    init(once: Bool = false, answer: @escaping @Sendable (Received) -> (bytes: [UInt8], descriptors: [Int32])?) {
        var ends: [Int32] = [-1, -1]
        precondition(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &ends) == 0)
        (frontEnd, backEnd) = (ends[0], ends[1])
        let backEnd = backEnd
        Thread.detachNewThread { [self] in
            defer { finished.signal() }
            while let message = Self.readMessage(backEnd) {
                lock.withLock { log.append(message) }
                guard let reply = answer(message) else { break }
                if !reply.bytes.isEmpty { Self.send(reply.bytes, descriptors: reply.descriptors, on: backEnd) }
                if once { break }
            }
            close(backEnd)
        }
    }

    /// What the front-end sent, once it has closed its end (or the fake stopped answering).
    func received() -> [Received] {
        finished.wait()
        return lock.withLock { log }
    }

    var requests: [UInt32] { lock.withLock { log.map(\.request) } }

    /// A reply header and payload as an honest back-end sends them.
    static func reply(_ request: VhostUserRequest, _ payload: [UInt8], flags: UInt32 = 0x5) -> [UInt8] {
        VhostUserMessage(request: request.rawValue, flags: flags, payload: payload).encoded
    }

    private static func readMessage(_ socket: Int32) -> Received? {
        var header = [UInt8](repeating: 0, count: 12)
        var control = [UInt8](repeating: 0, count: 64)
        let got = header.withUnsafeMutableBytes { data in
            control.withUnsafeMutableBytes { controlBytes -> (Int, Int) in
                var vector = iovec(iov_base: data.baseAddress, iov_len: 12)
                var message = msghdr()
                return withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    let count = recvmsg(socket, &message, Int32(MSG_WAITALL))
                    var descriptors = 0
                    if count > 0, message.msg_controllen >= 16, controlBytes.load(as: Int.self) >= 16 {
                        let length = controlBytes.load(as: Int.self)
                        descriptors = (length - 16) / 4
                        for index in 0..<descriptors { close(controlBytes.load(fromByteOffset: 16 + 4 * index, as: Int32.self)) }
                    }
                    return (count, descriptors)
                }
            }
        }
        guard got.0 == 12 else { return nil }
        let parsed = VhostUserMessage.Header(header)
        var payload = [UInt8](repeating: 0, count: Int(parsed.size))
        if parsed.size > 0 {
            guard recv(socket, &payload, payload.count, Int32(MSG_WAITALL)) == payload.count else { return nil }
        }
        return Received(request: parsed.request, flags: parsed.flags, payload: payload, descriptorCount: got.1)
    }

    private static func send(_ bytes: [UInt8], descriptors: [Int32], on socket: Int32) {
        guard !descriptors.isEmpty else {
            _ = bytes.withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            return
        }
        var control = [UInt8](repeating: 0, count: 16 + 8 * ((4 * descriptors.count + 7) / 8))
        control.withUnsafeMutableBytes { room in
            room.storeBytes(of: 16 + 4 * descriptors.count, as: Int.self)
            room.storeBytes(of: SOL_SOCKET, toByteOffset: 8, as: Int32.self)
            room.storeBytes(of: Int32(SCM_RIGHTS), toByteOffset: 12, as: Int32.self)
            for (index, fd) in descriptors.enumerated() { room.storeBytes(of: fd, toByteOffset: 16 + 4 * index, as: Int32.self) }
        }
        var data = bytes
        data.withUnsafeMutableBytes { dataBytes in
            control.withUnsafeMutableBytes { controlBytes in
                var vector = iovec(iov_base: dataBytes.baseAddress, iov_len: dataBytes.count)
                withUnsafeMutablePointer(to: &vector) { vectorPointer in
                    var message = msghdr()
                    message.msg_iov = vectorPointer
                    message.msg_iovlen = 1
                    message.msg_control = controlBytes.baseAddress
                    message.msg_controllen = controlBytes.count
                    _ = sendmsg(socket, &message, Int32(MSG_NOSIGNAL))
                }
            }
        }
    }
}
