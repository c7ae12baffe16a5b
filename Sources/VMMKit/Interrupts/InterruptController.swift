/// The board's interrupt controllers as the vCPUs and the IRQ lines see them: the PIC/IOAPIC/LAPIC
/// set in userspace, or KVM's in-kernel irqchip behind the same calls.
///
/// Called from vCPU threads and the host event thread at once: implementations lock their own state.
/// Whenever an interrupt, NMI or INIT/SIPI becomes pending for a vCPU, the controller calls
/// `Machine.kick(vcpu:)`, so a vCPU in HLT or inside KVM_RUN notices without polling.
public protocol InterruptController: AnyObject, Sendable {
    /// Drives an input line (an ISA IRQ / IOAPIC pin number) to `high` or low.
    func setLine(_ line: Int, high: Bool)

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
}

/// An INIT or SIPI delivered to a vCPU.
public enum StartupSignal: Equatable, Sendable {
    case initialize
    case startup(vector: UInt8)
}

/// A machine without interrupt controllers: lines go nowhere and nothing is ever pending.
public final class NoInterruptController: InterruptController {
    public init() {}
    public func setLine(_ line: Int, high: Bool) {}
    public func hasPendingInterrupt(vcpu: Int) -> Bool { false }
    public func acknowledgeInterrupt(vcpu: Int) -> UInt8? { nil }
    public func takeNonMaskableInterrupt(vcpu: Int) -> Bool { false }
    public func taskPriority(vcpu: Int) -> UInt8 { 0 }
    public func setTaskPriority(vcpu: Int, _ value: UInt8) {}
    public func takeStartupSignal(vcpu: Int) -> StartupSignal? { nil }
}

/// Where the interrupt controllers and the PIT are emulated.
public enum InterruptControllerPlacement: String, Sendable, CaseIterable {
    /// Our Swift device modules (both backends).
    case userspace = "user"
    /// KVM's in-kernel irqchip and PIT (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2): the KVM backend only.
    case inKernel = "kernel"
}
