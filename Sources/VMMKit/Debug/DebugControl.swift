import Dispatch
import Synchronization

/// Stops and resumes the vCPUs for a debugger, as QEMU's gdbstub stops the VM: the debugger's
/// thread asks, every vCPU parks at a safe point (between instructions or exits, or in its HLT or
/// wait-for-SIPI sleep) and blocks there until it may run again. While every vCPU is parked the
/// debugger reads and writes their state directly; the lock taken on parking and on leaving orders
/// those accesses against the vCPU's own.
///
/// A vCPU polls `isPauseRequested` (one atomic load) where it polls the machine's stop request, and
/// calls `park` when it is set, or when it hit one of the debugger's breakpoints (with the reason).
/// The first reason reported since the last resume is the stop the debugger sees.
public final class DebugControl: @unchecked Sendable {
    private struct State {
        /// vCPUs inside `run()`: those outside run no guest code and park on entering.
        var inside: Set<Int> = []
        var parked: Set<Int> = []
        /// vCPUs allowed to run: all after a continue, one for a single step, none while stopped.
        var runnable: Set<Int> = []
        var stop: DebugStop?
        var ended = false
        /// The current boot's vCPUs exist (`Machine.vcpus`): before that, and while a reboot
        /// replaces them, there is nothing for the debugger to read, so no stop is complete.
        var vcpusExist = false
    }

    private let vcpuCount: Int
    private let runControl: RunControl
    private let pause = Atomic<Bool>(false)
    private let state = Mutex(State())
    private let wakeUps: [DispatchSemaphore]
    /// Signalled whenever the machine may have come to a stop or ended; `waitForStop` re-checks.
    private let changed = DispatchSemaphore(value: 0)
    private let listener = Mutex<(@Sendable () -> Void)?>(nil)

    init(vcpuCount: Int, runControl: RunControl) {
        self.vcpuCount = vcpuCount
        self.runControl = runControl
        wakeUps = (0..<vcpuCount).map { _ in DispatchSemaphore(value: 0) }
        state.withLock { $0.runnable = Set(0..<vcpuCount) }
    }

    // MARK: the vCPU's side

    /// Whether some vCPU must park: checked where the vCPU checks the machine's stop request.
    @inline(__always)
    public var isPauseRequested: Bool { pause.load(ordering: .acquiring) }

    /// Called on vCPU `vcpu`'s thread at a safe point. Without a reason it returns at once if the
    /// vCPU may run; otherwise (or with a `reason`, which stops every vCPU) it blocks until the
    /// debugger lets this vCPU run again or the machine stops.
    public func park(vcpu: Int, reason: DebugStopReason? = nil) {
        let notify = state.withLock { current -> Bool? in
            if reason == nil && current.runnable.contains(vcpu) { return nil }
            if let reason {
                if current.stop == nil { current.stop = DebugStop(vcpu: vcpu, reason: reason) }
                current.runnable = [] // the others stop too, wherever they are
            }
            current.runnable.remove(vcpu)
            current.parked.insert(vcpu)
            return Self.everyVCPUStopped(current)
        }
        guard let notify else { return }
        if reason != nil {
            pause.store(true, ordering: .releasing)
            runControl.wakeEveryVCPU()
        }
        if notify { announce() }
        while true {
            let leave = state.withLock { current -> Bool in
                guard current.runnable.contains(vcpu) || current.ended || runControl.isStopRequested else { return false }
                current.parked.remove(vcpu)
                return true
            }
            if leave { return }
            wakeUps[vcpu].wait()
        }
    }

    /// `Machine` around each vCPU's `run()`: a vCPU that starts while the machine is stopped (the
    /// first boot under `--gdb-wait`, a reboot) parks before its first instruction.
    func enter(vcpu: Int) {
        state.withLock { _ = $0.inside.insert(vcpu) }
        if isPauseRequested { park(vcpu: vcpu) }
    }

    func leave(vcpu: Int) {
        let notify = state.withLock { current -> Bool in
            current.inside.remove(vcpu)
            return Self.everyVCPUStopped(current)
        }
        if notify && isPauseRequested { announce() }
    }

    /// `Machine` once a boot's vCPUs exist, and with false before it drops them for a reboot.
    func vcpusExist(_ exist: Bool) {
        state.withLock { $0.vcpusExist = exist }
        if exist { announce() }
    }

    /// The machine's run is over: nothing parks any more, and the debugger hears of it.
    func machineEnded() {
        state.withLock { $0.ended = true }
        wakeEveryParkedVCPU()
        announce()
    }

    /// The machine stops (an outcome or a reset): parked vCPUs must leave so their threads end.
    func wakeEveryParkedVCPU() { wakeUps.forEach { $0.signal() } }

    // MARK: the debugger's side

    /// Stops every vCPU before it runs (`--gdb-wait`): call before `Machine.run`.
    public func stopAtStart() {
        state.withLock { $0.runnable = [] }
        pause.store(true, ordering: .releasing)
    }

    /// Asks every vCPU to park and waits until all have (or the machine's run ended); returns the
    /// stop to report: the first a vCPU reported, or `.interrupted` on vCPU 0. Nil once the run ended.
    public func stopAll() -> DebugStop? {
        state.withLock { $0.runnable = [] }
        pause.store(true, ordering: .releasing)
        runControl.wakeEveryVCPU()
        return waitForStop(blocking: true) ?? nil
    }

    /// Once every vCPU is parked after a stop a vCPU reported (or the run ended), what to report:
    /// `.some(nil)` for the end of the run, nil while the machine runs. `blocking` waits for it.
    public func waitForStop(blocking: Bool) -> DebugStop?? {
        while true {
            let outcome = state.withLock { current -> DebugStop?? in
                if current.ended { return .some(nil) }
                guard pause.load(ordering: .acquiring), current.vcpusExist, current.runnable.isEmpty,
                      Self.everyVCPUStopped(current) else { return nil }
                return .some(current.stop ?? DebugStop(vcpu: 0, reason: .interrupted))
            }
            if outcome != nil || !blocking { return outcome }
            changed.wait()
        }
    }

    /// Lets every vCPU run, or only `stepping`, which parks again after one instruction.
    public func resume(stepping: Int?) {
        state.withLock { current in
            current.stop = nil
            current.runnable = stepping.map { [$0] } ?? Set(0..<vcpuCount)
        }
        pause.store(stepping != nil, ordering: .releasing)
        wakeEveryParkedVCPU()
    }

    /// `action` runs (on a vCPU's thread, without locks held) whenever the machine may have
    /// stopped or ended: the debugger's thread then asks `waitForStop(blocking: false)`.
    public func onChange(_ action: (@Sendable () -> Void)?) { listener.withLock { $0 = action } }

    private func announce() {
        changed.signal()
        listener.withLock { $0 }?()
    }

    private static func everyVCPUStopped(_ state: State) -> Bool { state.inside.isSubset(of: state.parked) }
}
