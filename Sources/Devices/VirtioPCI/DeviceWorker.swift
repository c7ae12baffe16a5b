#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// A virtio device's own thread, woken through a pipe: a doorbell write on a vCPU thread only
/// puts a byte in it (no lock, no allocation; a full pipe already means "wake up", so the write
/// end never blocks), and the device does its I/O here.
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
        _ = fcntl(writeEnd, F_SETFL, O_NONBLOCK)
    }

    deinit {
        close(readEnd)
        close(writeEnd)
    }

    /// Starts the thread, which runs `work` after each wake-up until `stop`.
    func start(name: String, _ work: @escaping () -> Void) throws {
        thread = try HostThread(name: name) { [self] in
            var bytes: (UInt64, UInt64) = (0, 0)
            while !stopping.load(ordering: .acquiring) {
                // One read takes every wake-up since the last: the work covers them all.
                let got = read(readEnd, &bytes, 16)
                guard got > 0 || errno == EINTR else { break }
                if stopping.load(ordering: .acquiring) { break }
                work()
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
    case eventDescriptor(Int32)

    public var description: String {
        switch self {
        case let .wakeUpPipe(errno): return "virtio: could not create the device thread's wake-up pipe (errno \(errno))"
        case let .eventDescriptor(errno): return "virtio: could not create a queue's eventfd (errno \(errno))"
        }
    }
}
