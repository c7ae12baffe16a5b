import Dispatch
import Synchronization

/// The machine's stop request: the first outcome reported wins, and every vCPU is kicked so it
/// sees the request promptly. vCPU loops poll `isStopRequested` (one relaxed atomic load) per exit.
public final class RunControl: Sendable {
    private let requested = Atomic<Bool>(false)
    private let outcome = Mutex<MachineOutcome?>(nil)
    private let kickAll = Mutex<(@Sendable () -> Void)?>(nil)
    private let stopped = DispatchSemaphore(value: 0)

    public init() {}

    @inline(__always)
    public var isStopRequested: Bool { requested.load(ordering: .acquiring) }

    /// Records `reason` unless a stop was already requested, then kicks every vCPU.
    public func requestStop(_ reason: MachineOutcome) {
        let first = outcome.withLock { current -> Bool in
            guard current == nil else { return false }
            current = reason
            return true
        }
        guard first else { return }
        requested.store(true, ordering: .releasing)
        kickAll.withLock { $0 }?()
        stopped.signal()
    }

    /// Blocks until a stop is requested or `seconds` pass; true if a stop was requested.
    /// One waiter at a time (the machine's timeout thread).
    public func waitForStop(seconds: Double) -> Bool {
        guard !isStopRequested else { return true }
        return stopped.wait(timeout: .now() + seconds) == .success
    }

    public var stopOutcome: MachineOutcome? { outcome.withLock { $0 } }

    func onStop(kick: @escaping @Sendable () -> Void) { kickAll.withLock { $0 = kick } }

    /// Kicks every vCPU without asking them to stop, so those asleep re-examine the machine.
    func wakeEveryVCPU() { kickAll.withLock { $0 }?() }
}
