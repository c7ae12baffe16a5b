/// Where the interrupt controllers and the PIT are emulated.
public enum InterruptControllerPlacement: String, Sendable, CaseIterable {
    /// Our Swift device modules (both backends).
    case userspace = "user"
    /// KVM's in-kernel irqchip and PIT (KVM_CREATE_IRQCHIP, KVM_CREATE_PIT2): the KVM backend only.
    case inKernel = "kernel"
}
