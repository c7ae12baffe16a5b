import Synchronization

/// A device that answers the guest's hypercall instruction (VMCALL/VMMCALL) in place of KVM's
/// hypercall ABI: Xen's HVM interface, whose numbers overlap KVM's.
public protocol HypercallHandler: AnyObject, Sendable {
    /// RAX after hypercall `number` (RAX; EAX outside 64-bit mode) made by `vcpu` at CPL `cpl`. In
    /// 32-bit code the backend keeps the low 32 bits.
    func hypercall(_ number: UInt64, vcpu: Int, cpl: Int) -> UInt64
}

public enum HypercallHookError: VMMError, Equatable {
    case alreadyClaimed(by: String, new: String)
    public var description: String {
        switch self {
        case let .alreadyClaimed(by, new):
            return "the hypercall instruction claimed by '\(new)' is already claimed by '\(by)'"
        }
    }
}

/// Who answers the guest's hypercall instruction, and whether the backend lets it: the Soft CPU
/// hands VMCALL/VMMCALL to the claiming device; KVM keeps them for its own ABI, so on KVM such a
/// device gives the guest another way to reach vmm (a port).
public final class HypercallHooks: Sendable {
    private let claim = Mutex<(handler: any HypercallHandler, name: String)?>(nil)
    private let reachesHandler = Atomic<Bool>(false)

    public init() {}

    public func claim(by handler: any HypercallHandler, name: String) throws(HypercallHookError) {
        try claim.withLock { (claim) throws(HypercallHookError) in
            if let existing = claim { throw .alreadyClaimed(by: existing.name, new: name) }
            claim = (handler, name)
        }
    }

    /// The claiming device, if any; a backend reads it once per vCPU.
    public var handler: (any HypercallHandler)? { claim.withLock { $0?.handler } }

    /// Whether the guest's VMCALL/VMMCALL reaches `handler`. The backend sets it when it creates
    /// a VM, before any vCPU runs.
    public var instructionReachesHandler: Bool {
        get { reachesHandler.load(ordering: .acquiring) }
        set { reachesHandler.store(newValue, ordering: .releasing) }
    }
}
