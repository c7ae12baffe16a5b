#if canImport(Glibc)
import Glibc
#endif
internal import CHostDescriptors
import Synchronization
import VMMKit

/// The eventfds a transport gives a `RemoteVirtioDevice`'s back-end, three per queue (kick, call,
/// error: QEMU's docs/interop/vhost-user.rst, SET_VRING_KICK/CALL/ERR), and the thread that
/// watches the back-end's side: a call becomes `onCall(queue)`, an error `onError(queue)`, the
/// connection's hang-up `onHangUp()` (once; the descriptor is not watched after it).
///
/// The kick is the queue's doorbell: `kick(queue)` writes its eventfd from the vCPU thread that
/// wrote the notification register, with no lock and no allocation.
final class RemoteQueueEvents: @unchecked Sendable {
    struct Handlers {
        var onCall: (Int) -> Void
        var onError: (Int) -> Void
        var onHangUp: () -> Void
    }

    let kicks: [Int32]
    let calls: [Int32]
    let errors: [Int32]
    /// Written by `stop` to end the thread's poll.
    private let stopEvent: Int32
    private let stopping = Atomic<Bool>(false)
    private var thread: HostThread?

    init(queueCount: Int) throws(VirtioTransportError) {
        var made: [Int32] = []
        for _ in 0..<(3 * queueCount + 1) {
            let event = chost_eventfd()
            guard event >= 0 else {
                let failure = errno
                made.forEach { close($0) }
                throw .eventDescriptor(failure)
            }
            made.append(event)
        }
        kicks = Array(made[0..<queueCount])
        calls = Array(made[queueCount..<2 * queueCount])
        errors = Array(made[2 * queueCount..<3 * queueCount])
        stopEvent = made[3 * queueCount]
    }

    deinit {
        for event in kicks + calls + errors + [stopEvent] { close(event) }
    }

    /// Rings queue `queue`'s doorbell; an index past the queues does nothing.
    @inline(__always)
    func kick(_ queue: Int) {
        guard queue >= 0, queue < kicks.count else { return }
        var one: UInt64 = 1
        _ = write(kicks[queue], &one, 8)
    }

    /// Starts watching the call and error eventfds and `connection`.
    func start(name: String, connection: Int32, handlers: Handlers) throws {
        let queueCount = calls.count
        thread = try HostThread(name: name) { [self] in
            // [stop, connection, calls..., errors...]; events 0 on the connection: only its hang-up
            // counts, its bytes belong to whoever sends requests.
            var watched = [pollfd(fd: stopEvent, events: Int16(POLLIN), revents: 0),
                           pollfd(fd: connection, events: 0, revents: 0)]
                + (calls + errors).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            var count: UInt64 = 0
            while !stopping.load(ordering: .acquiring) {
                guard poll(&watched, nfds_t(watched.count), -1) > 0 else {
                    if errno == EINTR { continue }
                    break
                }
                if watched[0].revents != 0 { break }
                if watched[1].revents != 0 {
                    watched[1].fd = -1
                    handlers.onHangUp()
                }
                for index in 0..<2 * queueCount where watched[2 + index].revents & Int16(POLLIN) != 0 {
                    // Reading takes every signal since the last: one interrupt covers them.
                    _ = read(watched[2 + index].fd, &count, 8)
                    if index < queueCount { handlers.onCall(index) } else { handlers.onError(index - queueCount) }
                }
            }
        }
    }

    func stop() {
        guard let thread else { return }
        stopping.store(true, ordering: .releasing)
        var one: UInt64 = 1
        _ = write(stopEvent, &one, 8)
        thread.join()
        self.thread = nil
    }
}
