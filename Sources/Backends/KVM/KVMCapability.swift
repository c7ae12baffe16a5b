import CKVM

/// A KVM extension vmm relies on, with the name KVM_CHECK_EXTENSION knows it by (api.rst: KVM_CHECK_EXTENSION and the capability sections).
struct KVMCapability {
    let number: Int32
    let name: String

    static let userMemory = KVMCapability(number: KVM_CAP_USER_MEMORY, name: "KVM_CAP_USER_MEMORY")
    static let readOnlyMemory = KVMCapability(number: KVM_CAP_READONLY_MEM, name: "KVM_CAP_READONLY_MEM")
    static let setTSSAddress = KVMCapability(number: KVM_CAP_SET_TSS_ADDR, name: "KVM_CAP_SET_TSS_ADDR")
    static let setIdentityMapAddress = KVMCapability(
        number: KVM_CAP_SET_IDENTITY_MAP_ADDR, name: "KVM_CAP_SET_IDENTITY_MAP_ADDR")
    static let extendedCPUID = KVMCapability(number: KVM_CAP_EXT_CPUID, name: "KVM_CAP_EXT_CPUID")
    static let immediateExit = KVMCapability(number: KVM_CAP_IMMEDIATE_EXIT, name: "KVM_CAP_IMMEDIATE_EXIT")
    static let vcpuEvents = KVMCapability(number: KVM_CAP_VCPU_EVENTS, name: "KVM_CAP_VCPU_EVENTS")
    static let debugRegisters = KVMCapability(number: KVM_CAP_DEBUGREGS, name: "KVM_CAP_DEBUGREGS")
    static let userNMI = KVMCapability(number: KVM_CAP_USER_NMI, name: "KVM_CAP_USER_NMI")
    static let userSpaceMSR = KVMCapability(number: KVM_CAP_X86_USER_SPACE_MSR, name: "KVM_CAP_X86_USER_SPACE_MSR")
    static let msrFilter = KVMCapability(number: KVM_CAP_X86_MSR_FILTER, name: "KVM_CAP_X86_MSR_FILTER")
    static let irqchip = KVMCapability(number: KVM_CAP_IRQCHIP, name: "KVM_CAP_IRQCHIP")
    static let pit2 = KVMCapability(number: KVM_CAP_PIT2, name: "KVM_CAP_PIT2")
    static let irqRouting = KVMCapability(number: KVM_CAP_IRQ_ROUTING, name: "KVM_CAP_IRQ_ROUTING")
    /// Answers a bit set of KVM_XEN_HVM_CONFIG_* flags; HYPERCALL_MSR is the hypercall-page loader.
    static let xenHVM = KVMCapability(number: KVM_CAP_XEN_HVM, name: "KVM_CAP_XEN_HVM")
    static let enforcePVFeatureCPUID = KVMCapability(
        number: KVM_CAP_ENFORCE_PV_FEATURE_CPUID, name: "KVM_CAP_ENFORCE_PV_FEATURE_CPUID")

    /// What every VM needs, whatever the machine: memory slots, the VT-x real-mode helpers, CPUID,
    /// kicks that cannot be lost, and the register/event ioctls VirtualCPU exposes.
    static let alwaysRequired: [(KVMCapability, String)] = [
        (userMemory, "guest memory slots"),
        (setTSSAddress, "the VT-x real-mode TSS"),
        (setIdentityMapAddress, "the VT-x real-mode identity map"),
        (extendedCPUID, "the guest CPUID model"),
        (immediateExit, "kicking vCPUs out of KVM_RUN"),
        (vcpuEvents, "exception injection"),
        (debugRegisters, "debug register access"),
        (userNMI, "NMI delivery from userspace interrupt controllers"),
    ]
}
