import Dispatch
import Synchronization

/// The machine's stop request: the first outcome reported wins, and every vCPU is kicked so it
/// sees the request promptly. vCPU loops poll `isStopRequested` (one relaxed atomic load) per exit.
///
/// A guest reset is a stop request too (the vCPUs must leave guest code for the machine to restart
/// them), but not an outcome: it is pending until `Machine.run` takes it between two boots. An
/// outcome reported while a reset is pending (Ctrl-C, the timeout, another vCPU's power-off) wins
/// over it, so a guest that resets in a loop can always be stopped from outside.
public final class RunControl: Sendable {
    private let requested = Atomic<Bool>(false)
    private let state = Mutex<(outcome: MachineOutcome?, resetPending: Bool)>((nil, false))
    private let kickAll = Mutex<(@Sendable () -> Void)?>(nil)
    private let stopped = DispatchSemaphore(value: 0)

    public init() {}

    @inline(__always)
    public var isStopRequested: Bool { requested.load(ordering: .acquiring) }

    /// Records `reason` unless an outcome was already recorded, then kicks every vCPU.
    public func requestStop(_ reason: MachineOutcome) {
        let first = state.withLock { current -> Bool in
            guard current.outcome == nil else { return false }
            current.outcome = reason
            return true
        }
        guard first else { return }
        requested.store(true, ordering: .releasing)
        kickAll.withLock { $0 }?()
        stopped.signal()
    }

    /// The guest asked for a reset (a reset register, the keyboard controller's pulse, or a triple
    /// fault the machine treats as one): every vCPU leaves guest code and `Machine.run` restarts the
    /// machine, or ends the run with `.reset` when it does not reboot. Ignored once an outcome is in.
    public func requestReset() {
        let first = state.withLock { current -> Bool in
            guard current.outcome == nil, !current.resetPending else { return false }
            current.resetPending = true
            return true
        }
        guard first else { return }
        requested.store(true, ordering: .releasing)
        kickAll.withLock { $0 }?()
    }

    /// Blocks until an outcome is recorded or `seconds` pass; true if one was. A pending reset does
    /// not end the wait: the machine's timeout counts across reboots. One waiter at a time.
    public func waitForStop(seconds: Double) -> Bool {
        guard stopOutcome == nil else { return true }
        return stopped.wait(timeout: .now() + seconds) == .success
    }

    public var stopOutcome: MachineOutcome? { state.withLock { $0.outcome } }

    /// Whether a reset is pending and no outcome has been recorded.
    public var isResetPending: Bool { state.withLock { $0.outcome == nil && $0.resetPending } }

    /// Between boots, with every vCPU thread joined: takes the pending reset and clears the stop
    /// request, so the next boot's vCPUs run. False (nothing changed) when an outcome came in.
    func takeReset() -> Bool {
        state.withLock { current -> Bool in
            guard current.outcome == nil, current.resetPending else { return false }
            current.resetPending = false
            requested.store(false, ordering: .releasing)
            return true
        }
    }

    func onStop(kick: @escaping @Sendable () -> Void) { kickAll.withLock { $0 = kick } }

    /// Kicks every vCPU without asking them to stop, so those asleep re-examine the machine.
    func wakeEveryVCPU() { kickAll.withLock { $0 }?() }
}
