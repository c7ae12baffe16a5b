/// Where a vCPU takes its interrupts from: the side of the interrupt controllers that the vCPU
/// loops of the backends see (SDM vol. 3, 6.8 and 10.8: a CPU asks its local APIC, or the 8259
/// through ExtINT, whether something is deliverable, and acknowledges it).
///
/// Called from every vCPU thread at once: implementations lock their own state. Whenever an
/// interrupt, NMI or INIT/SIPI becomes pending for a vCPU, the controller calls `Machine.kick(vcpu:)`,
/// so a vCPU in HLT or inside KVM_RUN notices without polling.
public protocol InterruptSource: AnyObject, Sendable {
    /// True when `vcpu` has a maskable interrupt that passes its priority checks (TPR/PPR, PIC masks).
    /// RFLAGS.IF and interrupt shadows are the CPU's business, not the controller's.
    func hasPendingInterrupt(vcpu: Int) -> Bool

    /// The INTA cycle: takes the highest-priority pending interrupt of `vcpu` into service and returns
    /// its vector; nil if it went away (the PIC then answers its spurious vector instead).
    func acknowledgeInterrupt(vcpu: Int) -> UInt8?

    /// Takes a pending NMI for `vcpu`, if any.
    func takeNonMaskableInterrupt(vcpu: Int) -> Bool

    /// CR8 as the vCPU reads it: TPR[7:4] (SDM vol. 3, 10.8.6.1).
    func taskPriority(vcpu: Int) -> UInt8
    func setTaskPriority(vcpu: Int, _ value: UInt8)

    /// INIT and start-up IPIs addressed to `vcpu` since the last call (SDM vol. 3, 8.4.4).
    func takeStartupSignal(vcpu: Int) -> StartupSignal?

    /// `vcpu` left guest code; called on its own thread before the exit is handled, so the
    /// controller may look at memory it shares with the guest (KVM's paravirtual EOI flag). Returns
    /// the EOIs the guest made that way since the last call, for the exit statistics.
    func synchronizeAfterExit(vcpu: Int) -> Int
}

extension InterruptSource {
    /// Controllers that share no memory with the guest have nothing to look at.
    public func synchronizeAfterExit(vcpu: Int) -> Int { 0 }
}

/// An INIT or SIPI delivered to a vCPU.
public enum StartupSignal: Equatable, Sendable {
    case initialize
    case startup(vector: UInt8)
}
