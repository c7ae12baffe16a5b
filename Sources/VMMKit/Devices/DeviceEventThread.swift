#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// A device's own thread, asleep in poll(2) on what can give it work: its doorbells, eventfds
/// (another process's completion, a timer) and host descriptors (a tap device, a socket). Each
/// wake-up takes every signalled doorbell and eventfd (so one round covers every ring since the
/// last), then calls the handler once with the set of sources that were ready; host descriptors are
/// the handler's to read. The vCPU threads never wait for it.
///
/// Sources are added before `start`; up to 63 of them (a `Ready` set is one word).
public final class DeviceEventThread: @unchecked Sendable {
    /// The sources ready in one wake-up, by the index `watch` returned.
    public struct Ready: Sendable {
        public let bits: UInt64
        public func contains(_ index: Int) -> Bool { index >= 0 && index < 64 && bits & (1 << UInt64(index)) != 0 }
    }

    private enum Source {
        case doorbell(Doorbell)
        case event(EventNotifier)
        case descriptor
    }

    public static let maximumSources = 63
    public let name: String
    private let stopEvent: EventNotifier
    private let stopping = Atomic<Bool>(false)
    private var sources: [Source] = []
    private var polled: [pollfd] = []
    private var thread: HostThread?

    public init(name: String) throws(EventNotifierError) {
        self.name = name
        stopEvent = try EventNotifier()
    }

    /// Wakes the thread for `doorbell`'s rings; returns its index in `Ready`.
    @discardableResult
    public func watch(_ doorbell: Doorbell) -> Int { add(.doorbell(doorbell), doorbell.event.fileDescriptor) }

    /// Wakes the thread when `event` is signalled; returns its index in `Ready`.
    @discardableResult
    public func watch(_ event: EventNotifier) -> Int { add(.event(event), event.fileDescriptor) }

    /// Wakes the thread while `descriptor` is readable (the handler must read it, or the thread
    /// wakes again at once); returns its index in `Ready`.
    @discardableResult
    public func watch(descriptor: Int32) -> Int { add(.descriptor, descriptor) }

    /// Stops (or resumes) waking for source `index`, from the handler or before `start`: a device
    /// with nowhere to put what a host descriptor has leaves it unread without being woken again at
    /// once. (poll(2) ignores a negative descriptor; its complement gives the descriptor back.)
    public func setWatching(_ index: Int, _ watching: Bool) {
        let descriptor = polled[index].fd
        if (descriptor >= 0) != watching { polled[index].fd = ~descriptor }
    }

    /// Wakes the thread when `descriptor` hangs up or fails (POLLHUP, POLLERR), not when it is
    /// readable, so the descriptor's bytes stay for whoever reads it (a vhost-user back-end's socket,
    /// whose replies a vCPU thread waits for); returns its index in `Ready`. A hang-up stays, so
    /// the handler `forget`s it.
    @discardableResult
    public func watch(hangUpOf descriptor: Int32) -> Int { add(.descriptor, descriptor, events: 0) }

    /// Stops watching source `index`; on the thread, from the handler.
    public func forget(_ index: Int) {
        guard polled.indices.contains(index) else { return }
        polled[index].fd = -1
    }

    private func add(_ source: Source, _ descriptor: Int32, events: Int16 = Int16(POLLIN)) -> Int {
        precondition(thread == nil && sources.count < Self.maximumSources, "DeviceEventThread: watch before start, at most 63")
        sources.append(source)
        polled.append(pollfd(fd: descriptor, events: events, revents: 0))
        return sources.count - 1
    }

    /// Starts the thread, which calls `handler` after each wake-up until `stop`.
    public func start(_ handler: @escaping (Ready) -> Void) throws(HostThreadError) {
        polled.append(pollfd(fd: stopEvent.fileDescriptor, events: Int16(POLLIN), revents: 0))
        thread = try HostThread(name: name) { [self] in
            while !stopping.load(ordering: .acquiring) {
                guard poll(&polled, nfds_t(polled.count), -1) > 0 || errno == EINTR else { break }
                if stopping.load(ordering: .acquiring) { break }
                handler(takeReady())
            }
        }
    }

    /// The ready sources, with their doorbells and eventfds taken.
    private func takeReady() -> Ready {
        var bits: UInt64 = 0
        for index in sources.indices where polled[index].revents != 0 {
            polled[index].revents = 0
            bits |= 1 << UInt64(index)
            switch sources[index] {
            case let .doorbell(doorbell): doorbell.take()
            case let .event(event): event.take()
            case .descriptor: break
            }
        }
        return Ready(bits: bits)
    }

    /// Ends the thread after its current round; callable once the device is done.
    public func stop() {
        guard let thread else { return }
        stopping.store(true, ordering: .releasing)
        stopEvent.signal()
        thread.join()
        self.thread = nil
    }
}
