/// The KVM paravirtual interfaces (Documentation/virt/kvm/x86/cpuid.rst, msr.rst, hypercalls.rst) a
/// machine offers its guest, chosen with `--pv`. An interface turned off is gone as on a KVM host
/// without it: its CPUID bit is clear, its MSR raises #GP and its hypercall answers -KVM_ENOSYS.
public struct ParavirtualFeatures: OptionSet, Sendable, Hashable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// kvmclock: MSR_KVM_SYSTEM_TIME_NEW and MSR_KVM_WALL_CLOCK_NEW.
    public static let kvmclock = ParavirtualFeatures(rawValue: 1 << 0)
    /// MSR_KVM_PV_EOI_EN: the guest may skip its EOI write.
    public static let pvEOI = ParavirtualFeatures(rawValue: 1 << 1)
    /// KVM_HC_KICK_CPU: a halted vCPU woken by another.
    public static let pvUnhalt = ParavirtualFeatures(rawValue: 1 << 2)
    /// KVM_HC_SEND_IPI: many IPIs in one hypercall.
    public static let pvIPI = ParavirtualFeatures(rawValue: 1 << 3)
    /// KVM_HC_SCHED_YIELD: give the CPU to a preempted lock holder.
    public static let pvSchedYield = ParavirtualFeatures(rawValue: 1 << 4)
    /// KVM_FEATURE_NOP_IO_DELAY: port 0x80 delays need not be made.
    public static let pvIODelay = ParavirtualFeatures(rawValue: 1 << 5)

    /// The `--pv` names, in the order `--help` lists them.
    public static let named: [(name: String, feature: ParavirtualFeatures)] = [
        ("kvmclock", .kvmclock), ("pv-eoi", .pvEOI), ("pv-unhalt", .pvUnhalt), ("pv-ipi", .pvIPI),
        ("pv-sched-yield", .pvSchedYield), ("pv-io-delay", .pvIODelay),
    ]

    public static let all = ParavirtualFeatures(named.map(\.feature))
    public static let none: ParavirtualFeatures = []

    /// `all`, `none`, or a comma-separated list of names; a failure names the first word that is none of them.
    public static func parse(_ text: String) -> Result<ParavirtualFeatures, UnknownName> {
        switch text {
        case "all": return .success(.all)
        case "none": return .success(.none)
        default: break
        }
        var features = ParavirtualFeatures.none
        for word in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let entry = named.first(where: { $0.name == word }) else { return .failure(UnknownName(word: String(word))) }
            features.insert(entry.feature)
        }
        return .success(features)
    }

    public struct UnknownName: Error, Equatable {
        public let word: String
    }

    /// The feature bits of CPUID leaf 0x40000001 EAX that these interfaces stand for, as a KVM host
    /// implementing each of them would set them (cpuid.rst). KVM_FEATURE_PV_EOI is the local
    /// APIC's to add (`KVMCPUIDFeature.pvEOI`), since it works only where the APIC is vmm's.
    public var kvmFeatureBits: UInt32 {
        var bits: UInt32 = 0
        if contains(.kvmclock) { bits |= KVMCPUIDFeature.clocksource2 | KVMCPUIDFeature.clocksourceStable }
        if contains(.pvIODelay) { bits |= KVMCPUIDFeature.nopIODelay }
        if contains(.pvUnhalt) { bits |= KVMCPUIDFeature.pvUnhalt }
        if contains(.pvIPI) { bits |= KVMCPUIDFeature.pvSendIPI }
        if contains(.pvSchedYield) { bits |= KVMCPUIDFeature.pvSchedYield }
        return bits
    }
}

/// KVM's CPUID leaves (Documentation/virt/kvm/x86/cpuid.rst): the signature at 0x40000000 and the
/// feature bits of 0x40000001 EAX, or one range up beside Xen's leaves (`CPUIDHooks.kvmLeafBase`).
public enum KVMCPUIDFeature {
    public static let signatureLeaf: UInt32 = 0x4000_0000
    public static let featuresLeaf: UInt32 = 0x4000_0001
    /// The features leaf's distance from the signature leaf, wherever that sits.
    public static let featuresOffset: UInt32 = featuresLeaf - signatureLeaf
    public static let clocksource: UInt32 = 1 << 0
    public static let nopIODelay: UInt32 = 1 << 1
    public static let clocksource2: UInt32 = 1 << 3
    public static let asyncPF: UInt32 = 1 << 4
    public static let pvEOI: UInt32 = 1 << 6
    public static let pvUnhalt: UInt32 = 1 << 7
    public static let pvTLBFlush: UInt32 = 1 << 9
    public static let pvSendIPI: UInt32 = 1 << 11
    public static let pvSchedYield: UInt32 = 1 << 13
    public static let asyncPFInterrupt: UInt32 = 1 << 14
    public static let clocksourceStable: UInt32 = 1 << 24
}

/// KVM's paravirtual MSRs (Documentation/virt/kvm/x86/msr.rst).
public enum KVMParavirtualMSR {
    public static let wallClock: UInt32 = 0x4b56_4d00
    public static let systemTime: UInt32 = 0x4b56_4d01
    public static let pvEOIEnable: UInt32 = 0x4b56_4d04
}
