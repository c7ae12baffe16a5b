import Synchronization

/// The four registers one CPUID leaf returns.
public struct CPUIDResult: Equatable, Sendable {
    public var eax: UInt32, ebx: UInt32, ecx: UInt32, edx: UInt32
    public init(eax: UInt32 = 0, ebx: UInt32 = 0, ecx: UInt32 = 0, edx: UInt32 = 0) {
        self.eax = eax
        self.ebx = ebx
        self.ecx = ecx
        self.edx = edx
    }
}

/// A device's say in what CPUID reports: a hypervisor leaf, a feature bit it implements.
public protocol CPUIDHook: AnyObject, Sendable {
    /// Adjusts the backend's answer for `leaf`/`subleaf` on `vcpu`.
    func adjust(leaf: UInt32, subleaf: UInt32, vcpu: Int, result: inout CPUIDResult)
}

public enum CPUIDHookError: VMMError, Equatable {
    case leavesTaken(first: UInt32, by: String, new: String)
    case notHypervisorLeaves(first: UInt32, last: UInt32, by: String)
    public var description: String {
        switch self {
        case let .leavesTaken(first, by, new):
            return "CPUID leaf 0x\(String(first, radix: 16)) defined by '\(new)' is already defined by '\(by)'"
        case let .notHypervisorLeaves(first, last, by):
            return "'\(by)' defines CPUID leaves 0x\(String(first, radix: 16))-0x\(String(last, radix: 16)), "
                + "outside one 0x100 range of the hypervisor leaves 0x40000000-0x4000ffff"
        }
    }
}

/// The hooks devices registered, applied in registration order on top of the backend's CPUID model,
/// and the hypervisor leaves devices define whole.
///
/// Hypervisor interfaces sit in ranges of 0x100 leaves from 0x40000000, each starting with its
/// signature leaf: Linux's hypervisor_cpuid_base (arch/x86/include/asm/processor.h) looks for a
/// signature at 0x40000000, 0x40000100, ... 0x4000ff00. KVM's leaves (cpuid.rst) sit in the first
/// range unless a device defines leaves there (Xen's HVM interface), and then in the second, as
/// KVM and QEMU place them beside Xen's (QEMU's KVM_CPUID_SIGNATURE_NEXT).
public final class CPUIDHooks: Sendable {
    private struct Definition {
        let leaves: ClosedRange<UInt32>
        let name: String
    }
    private let hooks = Mutex<[any CPUIDHook]>([])
    private let definitions = Mutex<[Definition]>([])

    public static let hypervisorLeaves: ClosedRange<UInt32> = 0x4000_0000...0x4000_ffff
    public static let hypervisorRangeSize: UInt32 = 0x100

    public init() {}

    public func register(_ hook: any CPUIDHook) { hooks.withLock { $0.append(hook) } }

    public func apply(leaf: UInt32, subleaf: UInt32, vcpu: Int, to result: inout CPUIDResult) {
        for hook in hooks.withLock({ $0 }) { hook.adjust(leaf: leaf, subleaf: subleaf, vcpu: vcpu, result: &result) }
    }

    /// Says that `leaves`, inside one range of the hypervisor leaves, are `name`'s: the backends
    /// list them (KVM_SET_CPUID2 knows only the leaves it is given) and the device's hook fills them.
    public func define(_ leaves: ClosedRange<UInt32>, by name: String) throws(CPUIDHookError) {
        let size = Self.hypervisorRangeSize
        guard Self.hypervisorLeaves.contains(leaves.lowerBound), Self.hypervisorLeaves.contains(leaves.upperBound),
              leaves.lowerBound / size == leaves.upperBound / size
        else { throw .notHypervisorLeaves(first: leaves.lowerBound, last: leaves.upperBound, by: name) }
        try definitions.withLock { (definitions) throws(CPUIDHookError) in
            if let clash = definitions.first(where: { $0.leaves.overlaps(leaves) }) {
                throw .leavesTaken(first: max(clash.leaves.lowerBound, leaves.lowerBound), by: clash.name, new: name)
            }
            definitions.append(Definition(leaves: leaves, name: name))
        }
    }

    /// Every leaf devices defined, in ascending order.
    public var definedLeaves: [UInt32] { definitions.withLock { $0.flatMap { Array($0.leaves) } }.sorted() }

    /// Where KVM's signature leaf sits: the first range of the hypervisor leaves that no device
    /// defined leaves in.
    public var kvmLeafBase: UInt32 {
        let taken = definitions.withLock { $0.map { $0.leaves.lowerBound / Self.hypervisorRangeSize } }
        var base = Self.hypervisorLeaves.lowerBound
        while taken.contains(base / Self.hypervisorRangeSize) { base += Self.hypervisorRangeSize }
        return base
    }

    /// Where the guest finds KVM's leaves for a machine offering `features`, or nil where it finds
    /// none: beside another hypervisor's leaves, KVM's are there only while they offer something.
    /// Alone they stay even with nothing offered, the signature of a KVM host without paravirtual
    /// interfaces (`--pv none` keeps them on a machine without Xen's).
    public func kvmLeafBase(offering features: ParavirtualFeatures) -> UInt32? {
        let base = kvmLeafBase
        return base == Self.hypervisorLeaves.lowerBound || !features.isEmpty ? base : nil
    }
}
