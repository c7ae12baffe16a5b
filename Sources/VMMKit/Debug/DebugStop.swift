/// Why the debugger's view of the machine stopped, as gdb's stop replies tell it (gdb manual,
/// "Stop Reply Packets": swbreak, hwbreak, watch/rwatch/awatch).
public enum DebugStopReason: Equatable, Sendable {
    /// The debugger asked (Ctrl-C), or the machine was stopped for it before running (`--gdb-wait`).
    case interrupted
    /// A software breakpoint (gdb's Z0) at the vCPU's instruction pointer, not yet executed.
    case softwareBreakpoint
    /// A hardware execution breakpoint (Z1).
    case hardwareBreakpoint
    /// One instruction retired under the debugger's single step.
    case singleStep
    /// A data watchpoint (Z2-Z4) hit by the instruction that just retired.
    case watchpoint(WatchpointKind, address: UInt64)
}

/// Which vCPU stopped the machine, and why.
public struct DebugStop: Equatable, Sendable {
    public let vcpu: Int
    public let reason: DebugStopReason

    public init(vcpu: Int, reason: DebugStopReason) {
        self.vcpu = vcpu
        self.reason = reason
    }
}
