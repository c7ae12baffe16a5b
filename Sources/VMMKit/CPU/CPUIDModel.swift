/// What a virtual CPU reports through CPUID before devices' `CPUIDHooks` adjust it: vendor, leaf
/// ranges, family/model and feature bits (SDM vol. 2, CPUID; AMD APM vol. 3, appendix E). A backend
/// that emulates the CPU must advertise exactly the features it implements.
public struct CPUIDModel: Equatable, Sendable {
    /// 12 ASCII characters, returned in EBX, EDX, ECX of leaf 0.
    public var vendor: String
    public var maxBasicLeaf: UInt32
    public var maxExtendedLeaf: UInt32
    public var family: UInt32
    public var model: UInt32
    public var stepping: UInt32
    /// Leaf 1 ECX/EDX and leaf 7 subleaf 0 EBX/ECX/EDX.
    public var leaf1ECX: UInt32
    public var leaf1EDX: UInt32
    public var leaf7EBX: UInt32
    public var leaf7ECX: UInt32
    public var leaf7EDX: UInt32
    /// Leaf 0x80000001 ECX/EDX.
    public var extendedECX: UInt32
    public var extendedEDX: UInt32
    /// Leaf 0x80000007 EDX (bit 8: invariant TSC).
    public var powerManagementEDX: UInt32
    public var physicalAddressBits: UInt32
    public var linearAddressBits: UInt32
    /// XCR0 bits XSAVE can manage (leaf 0xD); 0 without XSAVE.
    public var xsaveComponents: UInt64
    /// Up to 48 characters (leaves 0x80000002-4).
    public var brand: String

    public init(vendor: String, maxBasicLeaf: UInt32, maxExtendedLeaf: UInt32, family: UInt32, model: UInt32,
                stepping: UInt32, leaf1ECX: UInt32, leaf1EDX: UInt32, leaf7EBX: UInt32 = 0, leaf7ECX: UInt32 = 0,
                leaf7EDX: UInt32 = 0, extendedECX: UInt32, extendedEDX: UInt32, powerManagementEDX: UInt32 = 0,
                physicalAddressBits: UInt32, linearAddressBits: UInt32, xsaveComponents: UInt64 = 0, brand: String) {
        self.vendor = vendor
        self.maxBasicLeaf = maxBasicLeaf
        self.maxExtendedLeaf = maxExtendedLeaf
        self.family = family
        self.model = model
        self.stepping = stepping
        self.leaf1ECX = leaf1ECX
        self.leaf1EDX = leaf1EDX
        self.leaf7EBX = leaf7EBX
        self.leaf7ECX = leaf7ECX
        self.leaf7EDX = leaf7EDX
        self.extendedECX = extendedECX
        self.extendedEDX = extendedEDX
        self.powerManagementEDX = powerManagementEDX
        self.physicalAddressBits = physicalAddressBits
        self.linearAddressBits = linearAddressBits
        self.xsaveComponents = xsaveComponents
        self.brand = brand
    }

    /// Feature bits by register (SDM vol. 2, tables 3-10, 3-11; AMD APM vol. 3, E.4.2).
    public enum Leaf1EDX {
        public static let fpu: UInt32 = 1 << 0, de: UInt32 = 1 << 2, pse: UInt32 = 1 << 3, tsc: UInt32 = 1 << 4
        public static let msr: UInt32 = 1 << 5, pae: UInt32 = 1 << 6, cx8: UInt32 = 1 << 8, apic: UInt32 = 1 << 9
        public static let sep: UInt32 = 1 << 11, pge: UInt32 = 1 << 13, cmov: UInt32 = 1 << 15, pat: UInt32 = 1 << 16
        public static let pse36: UInt32 = 1 << 17, clflush: UInt32 = 1 << 19, fxsr: UInt32 = 1 << 24
        public static let sse: UInt32 = 1 << 25, sse2: UInt32 = 1 << 26
    }

    public enum Leaf1ECX {
        public static let sse3: UInt32 = 1 << 0, ssse3: UInt32 = 1 << 9
        public static let sse41: UInt32 = 1 << 19, sse42: UInt32 = 1 << 20
        public static let cx16: UInt32 = 1 << 13, x2apic: UInt32 = 1 << 21, movbe: UInt32 = 1 << 22
        public static let popcnt: UInt32 = 1 << 23, tscDeadline: UInt32 = 1 << 24, xsave: UInt32 = 1 << 26
        public static let osxsave: UInt32 = 1 << 27, hypervisor: UInt32 = 1 << 31
    }

    public enum ExtendedEDX {
        public static let syscall: UInt32 = 1 << 11, nx: UInt32 = 1 << 20, page1GB: UInt32 = 1 << 26
        public static let rdtscp: UInt32 = 1 << 27, longMode: UInt32 = 1 << 29
    }

    public enum ExtendedECX {
        public static let lahfLM: UInt32 = 1 << 0, abm: UInt32 = 1 << 5
    }

    /// The four registers for `leaf`/`subleaf` on vCPU `vcpu` (its APIC ID), before hooks.
    /// `osxsave` mirrors CR4.OSXSAVE.
    public func result(leaf: UInt32, subleaf: UInt32, vcpu: Int, osxsave: Bool = false) -> CPUIDResult {
        let apicID = UInt32(truncatingIfNeeded: vcpu) & 0xff
        let extended = leaf >= 0x8000_0000
        // Leaves beyond the maxima (and the hypervisor range, left to hooks) read as zero, as on AMD.
        if (!extended && leaf > maxBasicLeaf) || (extended && leaf > maxExtendedLeaf) { return CPUIDResult() }
        switch leaf {
        case 0:
            let (b, d, c) = registers(of: vendor)
            return CPUIDResult(eax: maxBasicLeaf, ebx: b, ecx: c, edx: d)
        case 1:
            let extendedFamily = family > 0xf ? family - 0xf : 0
            let eax = stepping | (model & 0xf) << 4 | min(family, 0xf) << 8 | (model >> 4) << 16 | extendedFamily << 20
            var ecx = leaf1ECX
            if osxsave { ecx |= Leaf1ECX.osxsave }
            // EBX: CLFLUSH line size 8 x 8 bytes, one logical processor, initial APIC ID.
            return CPUIDResult(eax: eax, ebx: 8 << 8 | 1 << 16 | apicID << 24, ecx: ecx, edx: leaf1EDX)
        case 7:
            return subleaf == 0 ? CPUIDResult(ebx: leaf7EBX, ecx: leaf7ECX, edx: leaf7EDX) : CPUIDResult()
        case 0xd:
            guard xsaveComponents != 0 else { return CPUIDResult() }
            // Legacy area 512 + header 64: x87 and SSE state only (SDM vol. 1, 13.2).
            guard subleaf == 0 else { return CPUIDResult() }
            let size: UInt32 = 576
            return CPUIDResult(eax: UInt32(truncatingIfNeeded: xsaveComponents), ebx: size, ecx: size,
                               edx: UInt32(truncatingIfNeeded: xsaveComponents >> 32))
        case 0x8000_0000:
            let (b, d, c) = registers(of: vendor)
            return CPUIDResult(eax: maxExtendedLeaf, ebx: b, ecx: c, edx: d)
        case 0x8000_0001:
            let extendedFamily = family > 0xf ? family - 0xf : 0
            let eax = stepping | (model & 0xf) << 4 | min(family, 0xf) << 8 | (model >> 4) << 16 | extendedFamily << 20
            return CPUIDResult(eax: eax, ecx: extendedECX, edx: extendedEDX)
        case 0x8000_0002...0x8000_0004:
            var bytes = Array(brand.utf8.prefix(47))
            bytes += Array(repeating: 0, count: 48 - bytes.count)
            let start = Int(leaf - 0x8000_0002) * 16
            func word(_ index: Int) -> UInt32 {
                (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[start + index * 4 + $1]) << (8 * UInt32($1)) }
            }
            return CPUIDResult(eax: word(0), ebx: word(1), ecx: word(2), edx: word(3))
        case 0x8000_0007:
            return CPUIDResult(edx: powerManagementEDX)
        case 0x8000_0008:
            return CPUIDResult(eax: physicalAddressBits | linearAddressBits << 8)
        default:
            return CPUIDResult()
        }
    }

    private func registers(of text: String) -> (UInt32, UInt32, UInt32) {
        var bytes = Array(text.utf8.prefix(12))
        bytes += Array(repeating: 0, count: 12 - bytes.count)
        func word(_ index: Int) -> UInt32 {
            (0..<4).reduce(UInt32(0)) { $0 | UInt32(bytes[index * 4 + $1]) << (8 * UInt32($1)) }
        }
        return (word(0), word(1), word(2))
    }
}
