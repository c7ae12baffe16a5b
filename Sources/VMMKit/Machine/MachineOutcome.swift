/// How a machine's run ended. The process exit status and message the command line makes of it
/// are VMMCommand's policy (ExitStatus.swift there), not the machine's.
public enum MachineOutcome: Equatable, Sendable {
    /// The guest wrote `value` to the debug-exit port: status (value << 1) | 1, QEMU's isa-debug-exit.
    case guestExit(value: UInt32)
    /// Every vCPU halted with interrupts off, or the guest asked for power-off.
    case poweredOff
    /// The guest asked for a reset and the machine does not reboot (`RebootPolicy.rebootsOnReset`
    /// false, or no `Machine.reload`), as with QEMU's `-no-reboot`.
    case reset
    /// Triple fault or shutdown, with the register dump of the vCPU that caused it.
    case shutdown(vcpu: Int, registerDump: String)
    /// The host side stopped the run: a signal such as SIGINT or SIGTERM.
    case interrupted(String)
    /// The user left vmm on purpose (the console's escape command).
    case quit(String)
    case timedOut(seconds: Double)
    /// A backend or device error ended the run.
    case failed(String)
}
