#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The clock and the deadline timers of a machine's devices (the PIT, each local APIC's timer).
///
/// Time is nanoseconds of the host's CLOCK_MONOTONIC. One host thread serves every timer: it sleeps
/// on a condition variable until the earliest deadline, so an idle guest costs no host CPU. Callbacks
/// run on that thread with none of this class's locks held, so they may take device locks and re-arm.
/// The internal lock is a leaf: a device may arm or cancel while holding its own lock.
///
/// The `.manual` clock is for tests: time moves only through `advance(to:)`, which runs the due
/// callbacks on the caller's thread in deadline order.
public final class DeviceTimers: @unchecked Sendable {
    public enum Clock: Sendable {
        case monotonic
        case manual
    }

    public let clock: Clock
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeup = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let manualNow = Atomic<UInt64>(0)
    // Guarded by `mutex`.
    private var timers: [DeviceTimer] = []
    private var thread: HostThread?
    private var stopping = false

    public init(clock: Clock = .monotonic) {
        self.clock = clock
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        // Deadlines are CLOCK_MONOTONIC values, so the wait must be measured on that clock too.
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(wakeup, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(wakeup)
        pthread_mutex_destroy(mutex)
        wakeup.deallocate()
        mutex.deallocate()
    }

    /// Nanoseconds on this clock.
    public var now: UInt64 {
        switch clock {
        case .monotonic:
            var time = timespec()
            clock_gettime(CLOCK_MONOTONIC, &time)
            return UInt64(time.tv_sec) &* 1_000_000_000 &+ UInt64(time.tv_nsec)
        case .manual:
            return manualNow.load(ordering: .acquiring)
        }
    }

    /// A timer that calls `fire` once per `arm`, on the timer thread.
    public func makeTimer(_ fire: @escaping @Sendable () -> Void) -> DeviceTimer {
        let timer = DeviceTimer(owner: self, fire: fire)
        locked { timers.append(timer) }
        return timer
    }

    /// Starts the timer thread (monotonic clock only; a no-op for the manual clock or when running).
    public func start() throws(HostThreadError) {
        guard clock == .monotonic else { return }
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        guard thread == nil, !stopping else { return }
        thread = try HostThread(name: "device timers") { [self] in serve() }
    }

    /// Ends the timer thread; timers armed afterwards never fire.
    public func stop() {
        let running = locked { () -> HostThread? in
            stopping = true
            pthread_cond_signal(wakeup)
            defer { thread = nil }
            return thread
        }
        running?.join()
    }

    /// Moves the manual clock forward to `time`, firing every callback due by then.
    public func advance(to time: UInt64) {
        guard clock == .manual else { return }
        var current = manualNow.load(ordering: .acquiring)
        while current < time {
            let (exchanged, original) = manualNow.compareExchange(expected: current, desired: time, ordering: .acquiringAndReleasing)
            if exchanged { break }
            current = original
        }
        while let due = locked({ takeEarliest(dueBy: now) }) { due.fire() }
    }

    func arm(_ timer: DeviceTimer, at deadline: UInt64) {
        locked {
            timer.deadline = deadline
            pthread_cond_signal(wakeup)
        }
    }

    func cancel(_ timer: DeviceTimer) { locked { timer.deadline = nil } }

    /// The timer thread's loop: sleep until the earliest deadline, fire it, repeat.
    private func serve() {
        pthread_mutex_lock(mutex)
        while !stopping {
            guard let earliest = timers.lazy.compactMap(\.deadline).min() else {
                pthread_cond_wait(wakeup, mutex)
                continue
            }
            if earliest > now {
                var until = timespec(tv_sec: Int(earliest / 1_000_000_000), tv_nsec: Int(earliest % 1_000_000_000))
                pthread_cond_timedwait(wakeup, mutex, &until)
                continue
            }
            guard let due = takeEarliest(dueBy: earliest) else { continue }
            pthread_mutex_unlock(mutex)
            due.fire()
            pthread_mutex_lock(mutex)
        }
        pthread_mutex_unlock(mutex)
    }

    /// Disarms and returns the timer with the earliest deadline at or before `time`. Call locked.
    private func takeEarliest(dueBy time: UInt64) -> DeviceTimer? {
        var chosen: DeviceTimer?
        for timer in timers {
            guard let deadline = timer.deadline, deadline <= time else { continue }
            if let best = chosen?.deadline, best <= deadline { continue }
            chosen = timer
        }
        chosen?.deadline = nil
        return chosen
    }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return body()
    }
}

/// One device's deadline: armed for an absolute time on its `DeviceTimers` clock, fired once.
public final class DeviceTimer: @unchecked Sendable {
    private unowned let owner: DeviceTimers
    fileprivate let fire: @Sendable () -> Void
    /// Guarded by the owner's mutex.
    fileprivate var deadline: UInt64?

    fileprivate init(owner: DeviceTimers, fire: @escaping @Sendable () -> Void) {
        self.owner = owner
        self.fire = fire
    }

    /// Fires at `deadline` (nanoseconds on the owner's clock), replacing any earlier arming.
    public func arm(at deadline: UInt64) { owner.arm(self, at: deadline) }

    public func cancel() { owner.cancel(self) }
}
