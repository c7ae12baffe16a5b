#if arch(x86_64)
import CHostALU
#endif
import VMMKit

extension CPUIDModel {
    /// What the Soft CPU implements, and nothing more. On an x86-64 host the vendor, family, model
    /// and stepping are the host's: the flags the manuals leave undefined come from the host CPU (see
    /// CHostALU and the translator), so the guest sees the CPU whose behaviour it gets, and
    /// vendor-specific code in the guest (errata, MSRs) takes the branch that matches it. Elsewhere,
    /// QEMU's "qemu64" identity (AMD family 15), which guests know to need no model-specific quirks.
    public static let softCPU: CPUIDModel = {
        var model = CPUIDModel(
            vendor: "AuthenticAMD", maxBasicLeaf: 0xd, maxExtendedLeaf: 0x8000_0008,
            family: 15, model: 107, stepping: 1,
            leaf1ECX: Leaf1ECX.sse3 | Leaf1ECX.ssse3 | Leaf1ECX.sse41 | Leaf1ECX.sse42 | Leaf1ECX.cx16
                | Leaf1ECX.movbe | Leaf1ECX.popcnt | Leaf1ECX.xsave | Leaf1ECX.hypervisor,
            leaf1EDX: Leaf1EDX.fpu | Leaf1EDX.de | Leaf1EDX.pse | Leaf1EDX.tsc | Leaf1EDX.msr | Leaf1EDX.pae
                | Leaf1EDX.cx8 | Leaf1EDX.apic | Leaf1EDX.sep | Leaf1EDX.pge | Leaf1EDX.cmov | Leaf1EDX.pat
                | Leaf1EDX.pse36 | Leaf1EDX.clflush | Leaf1EDX.fxsr | Leaf1EDX.sse | Leaf1EDX.sse2,
            extendedECX: ExtendedECX.lahfLM | ExtendedECX.abm,
            extendedEDX: ExtendedEDX.syscall | ExtendedEDX.nx | ExtendedEDX.page1GB | ExtendedEDX.rdtscp
                | ExtendedEDX.longMode,
            powerManagementEDX: 1 << 8,
            physicalAddressBits: 40, linearAddressBits: 48,
            xsaveComponents: 3,
            brand: "vmm soft x86-64 CPU")
        #if arch(x86_64)
        model.takeIdentity(of: HostCPUIdentity.current)
        #endif
        return model
    }()

    /// Vendor, family, model and stepping from `identity`; the feature bits stay the Soft CPU's.
    mutating func takeIdentity(of identity: HostCPUIdentity) {
        vendor = identity.vendor
        family = identity.family
        model = identity.model
        stepping = identity.stepping
    }
}

/// Who made the CPU and which one it is, as CPUID leaves 0 and 1 describe it (SDM vol. 2, CPUID,
/// "Version Information"; AMD APM vol. 3, CPUID Fn0000_0001_EAX).
struct HostCPUIdentity: Equatable {
    var vendor: String
    /// The display family and model: base plus extended fields where the vendor's rule adds them.
    var family: UInt32
    var model: UInt32
    var stepping: UInt32

    static let intel = "GenuineIntel"

    var isIntel: Bool { vendor == Self.intel }

    /// Decodes leaf 0 EBX/EDX/ECX and leaf 1 EAX. The extended family counts only when the base family
    /// is 15; the extended model when it is 15, or 6 on Intel processors.
    init(vendorRegisters: (UInt32, UInt32, UInt32), signature: UInt32) {
        let bytes = [vendorRegisters.0, vendorRegisters.1, vendorRegisters.2].flatMap { word in
            (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) }
        }
        vendor = String(decoding: bytes, as: UTF8.self)
        let baseFamily = (signature >> 8) & 0xf, baseModel = (signature >> 4) & 0xf
        family = baseFamily == 0xf ? baseFamily + (signature >> 20) & 0xff : baseFamily
        let extendsModel = baseFamily == 0xf || (baseFamily == 6 && vendor == Self.intel)
        model = extendsModel ? baseModel | ((signature >> 16) & 0xf) << 4 : baseModel
        stepping = signature & 0xf
    }

    #if arch(x86_64)
    static let current: HostCPUIdentity = {
        var leaf0: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        var leaf1: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &leaf0) { host_cpuid(0, 0, $0.baseAddress!.assumingMemoryBound(to: UInt32.self)) }
        withUnsafeMutableBytes(of: &leaf1) { host_cpuid(1, 0, $0.baseAddress!.assumingMemoryBound(to: UInt32.self)) }
        return HostCPUIdentity(vendorRegisters: (leaf0.1, leaf0.3, leaf0.2), signature: leaf1.0)
    }()
    #endif
}
