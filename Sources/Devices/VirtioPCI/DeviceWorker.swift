#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// A virtio device's own thread, woken through a pipe: a doorbell write on a vCPU thread only
/// puts a byte in it (no lock, no allocation; a full pipe already means "wake up", so the write
/// end never blocks), and the device does its I/O here. It may also wait on one host descriptor
/// of the device's (a network link).
final class DeviceWorker: @unchecked Sendable {
    private let readEnd: Int32
    private let writeEnd: Int32
    private let stopping = Atomic<Bool>(false)
    private var thread: HostThread?

    init() throws(VirtioTransportError) {
        var ends: [Int32] = [-1, -1]
        guard pipe(&ends) == 0 else { throw .wakeUpPipe(errno) }
        (readEnd, writeEnd) = (ends[0], ends[1])
        for end in ends { _ = fcntl(end, F_SETFD, FD_CLOEXEC) }
        // Non-blocking both ways: a poll wake-up from the host descriptor alone finds the pipe
        // empty, and the read must not wait for a doorbell.
        for end in ends { _ = fcntl(end, F_SETFL, O_NONBLOCK) }
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Starts the thread, which runs `work` after each wake-up until `stop`. With a `host`
    /// descriptor, the thread also wakes when that is readable, as long as the last `work` returned
    /// true (a device with nowhere to put host input says false, and waits for a doorbell).
    func start(name: String, watching host: Int32? = nil, _ work: @escaping () -> Bool) throws {
        thread = try HostThread(name: name) { [self] in
            var bytes: (UInt64, UInt64) = (0, 0)
            var watchHost = false
            // A negative descriptor is one poll(2) ignores.
            var waits = [pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0),
                         pollfd(fd: -1, events: Int16(POLLIN), revents: 0)]
            while !stopping.load(ordering: .acquiring) {
                waits[1].fd = watchHost ? host ?? -1 : -1
                waits[0].revents = 0
                guard poll(&waits, 2, -1) >= 0 || errno == EINTR else { break }
                // One read takes every wake-up since the last: the work covers them all.
                if waits[0].revents != 0 { _ = read(readEnd, &bytes, 16) }
                if stopping.load(ordering: .acquiring) { break }
                watchHost = work()
            }
        }
    }

    /// Wakes the thread; callable from any thread.
    @inline(__always)
    func wake() {
        var one: UInt8 = 1
        _ = write(writeEnd, &one, 1)
    }

    func stop() {
        guard let thread else { return }
        stopping.store(true, ordering: .releasing)
        wake()
        thread.join()
        self.thread = nil
    }
}

public enum VirtioTransportError: VMMError, Equatable {
    case wakeUpPipe(Int32)

    public var description: String {
        switch self {
        case let .wakeUpPipe(errno): return "virtio: could not create the device thread's wake-up pipe (errno \(errno))"
        }
    }
}
