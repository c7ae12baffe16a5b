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

/// The hooks devices registered, applied in registration order on top of the backend's CPUID model.
public final class CPUIDHooks: Sendable {
    private let hooks = Mutex<[any CPUIDHook]>([])

    public init() {}

    public func register(_ hook: any CPUIDHook) { hooks.withLock { $0.append(hook) } }

    public func apply(leaf: UInt32, subleaf: UInt32, vcpu: Int, to result: inout CPUIDResult) {
        for hook in hooks.withLock({ $0 }) { hook.adjust(leaf: leaf, subleaf: subleaf, vcpu: vcpu, result: &result) }
    }
}
