import VMMKit

/// What the command line makes of a machine's end: vmm's process exit status and the line it
/// prints on stderr.
extension MachineOutcome {
    /// Statuses vmm chooses itself are even, so none can be mistaken for a debug-exit status,
    /// which is always odd (a guest's "pass" is 1).
    public var exitStatus: Int32 {
        switch self {
        case let .guestExit(value): return Int32(truncatingIfNeeded: (value << 1) | 1)
        case .poweredOff, .reset, .quit: return 0
        case .shutdown: return 4
        case .interrupted: return 130
        case .timedOut: return 124
        case .failed: return 6
        }
    }

    /// What vmm prints on stderr when the run ends, or nil for a quiet end.
    public var message: String? {
        switch self {
        case .guestExit, .poweredOff: return nil
        case .reset: return "vmm: the guest requested a reset; stopping"
        case let .shutdown(vcpu, dump): return "vmm: vCPU \(vcpu) shut down (triple fault)\n\(dump)"
        case let .interrupted(why): return "vmm: stopped: \(why)"
        case let .quit(why): return "vmm: \(why)"
        case let .timedOut(seconds): return "vmm: stopped after the \(seconds)-second timeout"
        case let .failed(why): return "vmm: \(why)"
        }
    }
}
