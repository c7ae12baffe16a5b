/// What a backend's VM does for a debugger: the part of breakpoints, watchpoints and single step
/// that is the backend's own (the Soft CPU checks them itself; KVM programs KVM_SET_GUEST_DEBUG).
/// Stopping and resuming the vCPUs, registers and memory are the same for every backend and live in
/// `DebugControl` and `MachineDebugTarget`.
///
/// Every call comes from the debugger's thread while every vCPU is parked (`DebugControl.park`) or
/// not inside `run()`, so the backend's per-vCPU state may be changed directly.
public protocol GuestDebugging: AnyObject {
    /// Arms `breakpoints` on every vCPU, and a single step of one instruction on vCPU `stepping`,
    /// before the vCPUs resume. Throws when the backend cannot do what is asked.
    func armDebugging(_ breakpoints: DebugBreakpoints, stepping: Int?) throws
    /// After every vCPU parked: takes out whatever arming put into guest memory (KVM's INT3s), so
    /// the debugger reads the guest's own bytes.
    func disarmDebugging()
    /// The debugger wrote guest-physical memory: decoded or translated code and cached
    /// translations of it must go.
    func debuggerWroteMemory(physical: UInt64, length: Int)
    /// Whether the backend can watch `watchpoint` (KVM: what one debug register can watch).
    func supports(_ watchpoint: Watchpoint) -> Bool
}

extension GuestDebugging {
    public func supports(_ watchpoint: Watchpoint) -> Bool { true }
}
