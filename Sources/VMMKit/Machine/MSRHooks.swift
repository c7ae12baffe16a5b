import Synchronization

/// Model-specific registers a device implements in userspace (the Xen hypercall-page MSR, for one).
public protocol MSRHandler: AnyObject, Sendable {
    /// The value of MSR `index` for `vcpu`, or nil to raise #GP in the guest.
    func readMSR(_ index: UInt32, vcpu: Int) -> UInt64?
    /// Returns false to raise #GP in the guest. `isLongMode` tells whether `vcpu` is in long mode
    /// (EFER.LMA), for the few MSRs whose effect depends on it (Xen's hypercall-page MSR loads the
    /// 64-bit page then); it is a question, not a value, because on KVM answering costs an ioctl
    /// that every other MSR write should not pay.
    func writeMSR(_ index: UInt32, value: UInt64, vcpu: Int, isLongMode: () -> Bool) -> Bool
}

extension MSRHandler {
    /// A write from outside any vCPU's instruction stream (a test, a board): no long mode.
    public func writeMSR(_ index: UInt32, value: UInt64, vcpu: Int) -> Bool {
        writeMSR(index, value: value, vcpu: vcpu, isLongMode: { false })
    }
}

public enum MSRHookError: VMMError, Equatable {
    case alreadyClaimed(index: UInt32, by: String, new: String)
    public var description: String {
        switch self {
        case let .alreadyClaimed(index, by, new):
            return "MSR 0x\(String(index, radix: 16)) claimed by '\(new)' is already claimed by '\(by)'"
        }
    }
}

/// The MSRs devices claimed. Backends route guest RDMSR/WRMSR of these indices here (KVM through its
/// user-space MSR exits) before their own handling.
public final class MSRHooks: Sendable {
    private struct Claim {
        let indices: ClosedRange<UInt32>
        let handler: any MSRHandler
        let name: String
    }
    private let claims = Mutex<[Claim]>([])
    private let loader = Mutex<(any HypercallPageLoader)?>(nil)

    public init() {}

    public func claim(_ indices: ClosedRange<UInt32>, by handler: any MSRHandler, name: String) throws(MSRHookError) {
        try claims.withLock { (claims) throws(MSRHookError) in
            if let clash = claims.first(where: { $0.indices.overlaps(indices) }) {
                throw .alreadyClaimed(index: max(clash.indices.lowerBound, indices.lowerBound), by: clash.name, new: name)
            }
            claims.append(Claim(indices: indices, handler: handler, name: name))
        }
    }

    /// The handler claiming `index`, if a device did.
    public func handler(for index: UInt32) -> (any MSRHandler)? {
        claims.withLock { claims in claims.first(where: { $0.indices.contains(index) })?.handler }
    }

    /// Offers `pageLoader`'s MSR, which its device has claimed, to a backend that loads pages in the
    /// kernel. One machine has one hypercall page.
    public func offer(_ pageLoader: any HypercallPageLoader) { loader.withLock { $0 = pageLoader } }

    public var hypercallPageLoader: (any HypercallPageLoader)? { loader.withLock { $0 } }

    /// Every claimed range, so the KVM backend can ask for exits on exactly these.
    public var claimedRanges: [ClosedRange<UInt32>] { claims.withLock { $0.map(\.indices) } }
}
