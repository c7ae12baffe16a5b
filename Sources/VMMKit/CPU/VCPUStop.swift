/// Why a vCPU's `run()` returned. Everything that can be handled and resumed is handled inside
/// the backend; these are the outcomes the machine must act on.
public enum VCPUStop: Equatable, Sendable {
    /// The machine was asked to stop (debug exit, another vCPU's fault, Ctrl-C, timeout).
    case machineStopped
    /// HLT with interrupts disabled and nothing that could wake it: the guest powered itself off.
    case haltedForever
    /// Triple fault or a shutdown request from the guest.
    case shutdown(registerDump: String)
    /// The guest requested a reset through the backend (KVM_SYSTEM_EVENT_RESET); devices request one
    /// with `RunControl.requestReset` instead.
    case reset
}
