import VMMKit

/// The KVM CPUID leaves (Documentation/virt/kvm/x86/cpuid.rst) for what the Soft CPU implements of
/// the interfaces `--pv` leaves on: the signature at 0x40000000 and, at 0x40000001, the features
/// (`ParavirtualFeatures.kvmFeatureBits`; the local APIC adds KVM_FEATURE_PV_EOI); one range up
/// beside Xen's leaves, or nowhere (`CPUIDHooks.kvmLeafBase(offering:)`).
///
/// The invariant-TSC bit (CPUID 0x80000007 EDX bit 8) is true of the Soft CPU's TSC, but it is
/// shown only while kvmclock is off. Linux's kvmclock_init (arch/x86/kernel/kvmclock.c) rates
/// kvm-clock 299, below the TSC's 300, when the TSC is constant and nonstop, so with both a guest
/// would keep the TSC and never use the clock vmm offers. KVM does not advertise invariant TSC by
/// default either (QEMU asks for it with +invtsc); with kvmclock off the TSC is the guest's best
/// clock and saying it is invariant lets the guest trust it.
enum KVMParavirtualLeaves {
    static let powerManagementLeaf: UInt32 = 0x8000_0007
    static let invariantTSC: UInt32 = 1 << 8

    static func result(leaf: UInt32, base: UInt32?, features: ParavirtualFeatures) -> CPUIDResult? {
        guard let base else { return nil }
        switch leaf {
        case base:
            // "KVMKVMKVM\0\0\0" in EBX, ECX, EDX; EAX the highest leaf.
            return CPUIDResult(eax: base + KVMCPUIDFeature.featuresOffset, ebx: 0x4b4d_564b, ecx: 0x564b_4d56, edx: 0x0000_004d)
        case base + KVMCPUIDFeature.featuresOffset:
            return CPUIDResult(eax: features.kvmFeatureBits)
        default:
            return nil
        }
    }

    /// What the Soft CPU's own model changes for the paravirtual interfaces in use.
    static func adjust(leaf: UInt32, features: ParavirtualFeatures, result: inout CPUIDResult) {
        if leaf == powerManagementLeaf && features.contains(.kvmclock) { result.edx &= ~invariantTSC }
    }
}
