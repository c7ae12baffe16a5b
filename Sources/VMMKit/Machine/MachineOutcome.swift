/// How a machine's run ended, and the process exit status vmm gives it.
public enum MachineOutcome: Equatable, Sendable {
    /// The guest wrote `value` to the debug-exit port: status (value << 1) | 1, QEMU's isa-debug-exit.
    case guestExit(value: UInt32)
    /// Every vCPU halted with interrupts off, or the guest asked for power-off.
    case poweredOff
    /// The guest asked for a reset; vmm ends the run, as `-no-reboot` does for QEMU.
    case reset
    /// Triple fault or shutdown, with the register dump of the vCPU that caused it.
    case shutdown(vcpu: Int, registerDump: String)
    /// The host side stopped the run: Ctrl-C, or `--timeout`.
    case interrupted(String)
    case timedOut(seconds: Double)
    /// A backend or device error ended the run.
    case failed(String)

    /// Statuses vmm chooses itself are even, so none can be mistaken for a debug-exit status,
    /// which is always odd (a guest's "pass" is 1).
    public var exitStatus: Int32 {
        switch self {
        case let .guestExit(value): return Int32(truncatingIfNeeded: (value << 1) | 1)
        case .poweredOff, .reset: return 0
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
        case let .timedOut(seconds): return "vmm: stopped after the \(seconds)-second timeout"
        case let .failed(why): return "vmm: \(why)"
        }
    }
}
