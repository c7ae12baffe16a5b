/// What a data watchpoint reacts to (gdb's Z2 write, Z3 read, Z4 access).
public enum WatchpointKind: Equatable, Hashable, Sendable {
    case write, read, access
}

/// A data watchpoint on `length` bytes at a linear address.
public struct Watchpoint: Equatable, Hashable, Sendable {
    public let address: UInt64
    public let length: UInt64
    public let kind: WatchpointKind

    public init(address: UInt64, length: UInt64, kind: WatchpointKind) {
        self.address = address
        self.length = length
        self.kind = kind
    }

    /// Whether an access of `size` bytes at `linear` is one this watchpoint reports. A read-only
    /// watchpoint ignores writes, as gdb's rwatch does; x86 debug registers cannot watch reads alone,
    /// so the Soft CPU is stricter than hardware here, which gdb accepts (it checks the value).
    public func hits(_ linear: UInt64, size: UInt64, write: Bool) -> Bool {
        switch kind {
        case .write where !write, .read where write: return false
        default: break
        }
        return linear < address &+ length && address < linear &+ size
    }
}

/// The debugger's breakpoints and watchpoints, all on linear addresses (the address space of the
/// vCPU's current page tables), separate from the guest's own DR0-DR7, which keep working for it.
public struct DebugBreakpoints: Equatable, Sendable {
    /// Software breakpoints (Z0): the backend stops before executing an instruction there.
    public var software: Set<UInt64> = []
    /// Hardware execution breakpoints (Z1).
    public var hardware: Set<UInt64> = []
    public var watchpoints: Set<Watchpoint> = []

    /// x86 has four debug address registers (SDM vol. 3, 17.2): a backend that uses the real ones
    /// (KVM) has that many for Z1-Z4 together, and the Soft CPU keeps the same limit so that a gdb
    /// session behaves the same on both.
    public static let hardwareSlots = 4

    public init() {}

    public var isEmpty: Bool { software.isEmpty && hardware.isEmpty && watchpoints.isEmpty }

    /// Whether another hardware breakpoint or watchpoint fits in the debug registers.
    public var hasFreeHardwareSlot: Bool { hardware.count + watchpoints.count < Self.hardwareSlots }
}
