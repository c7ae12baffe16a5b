import Synchronization

/// The doorbells of one bus (`IOBus.doorbells`), in the form a vCPU checks before bus dispatch: a
/// fixed array of addresses, each an atomic the vCPU loads, beside the immutable width, value and
/// descriptor of its doorbell. Ringing takes no lock, allocates nothing and touches no reference
/// count; a bus without doorbells costs one load. Declaring and moving take the table's lock, and
/// tell the connected `DoorbellRegistrar` (KVM) so that the kernel signals the same doorbells.
///
/// A ring from userspace writes the eventfd only when it is the first since the device's thread
/// last took the doorbell (`pending` goes from 0): the thread serves everything after its take, so
/// the later rings need no wake-up, and a burst of notifications costs one system call, not one
/// each. (KVM's own signal is cheap while the thread is awake: nobody waits on the eventfd then.)
///
/// A write racing a move may ring at the old address or go through the bus: the guest cannot tell,
/// as a doorbell's write is never ordered against its own BAR write on hardware either.
public final class DoorbellTable: @unchecked Sendable {
    /// More than any board needs: one per virtio queue.
    public static let capacity = 64
    /// No guest access has this address (physical addresses have at most 52 bits, ports 16).
    static let nowhere = UInt64.max

    /// What a ring compares besides the address, fixed when the doorbell is declared.
    struct Shape {
        var width: Int
        var match: UInt64?
        var descriptor: Int32
        var coalescing: Bool
    }

    private struct State {
        var doorbells: [Doorbell] = []
        var registrar: (any DoorbellRegistrar)?
    }

    public let space: DoorbellSpace
    private let state = Mutex(State())
    /// How many slots are in use: published with release after the slot is written.
    private let published = Atomic<Int>(0)
    @exclusivity(unchecked) private let addresses: UnsafeMutablePointer<Atomic<UInt64>>
    @exclusivity(unchecked) private let shapes: UnsafeMutablePointer<Shape>
    /// Per slot: userspace rings since the last take, and the eventfd writes they made in all.
    @exclusivity(unchecked) private let pending: UnsafeMutablePointer<Atomic<UInt64>>
    @exclusivity(unchecked) private let signals: UnsafeMutablePointer<Atomic<UInt64>>

    init(space: DoorbellSpace) {
        self.space = space
        addresses = .allocate(capacity: Self.capacity)
        for slot in 0..<Self.capacity { (addresses + slot).initialize(to: Atomic(Self.nowhere)) }
        shapes = .allocate(capacity: Self.capacity)
        pending = .allocate(capacity: Self.capacity)
        signals = .allocate(capacity: Self.capacity)
        for slot in 0..<Self.capacity {
            (pending + slot).initialize(to: Atomic(0))
            (signals + slot).initialize(to: Atomic(0))
        }
    }

    deinit {
        addresses.deinitialize(count: Self.capacity)
        addresses.deallocate()
        shapes.deinitialize(count: published.load(ordering: .relaxed))
        shapes.deallocate()
        pending.deinitialize(count: Self.capacity)
        pending.deallocate()
        signals.deinitialize(count: Self.capacity)
        signals.deallocate()
    }

    /// A new doorbell of `width` bytes (1, 2, 4 or 8), ringing only for `match` if given, at no
    /// address until `move`d. `coalescing` false: every userspace ring writes the eventfd, for a
    /// doorbell whose eventfd another process reads (a vhost-user back end's kick), which never
    /// tells the table it took them.
    public func declare(name: String, width: Int, match: UInt64? = nil, coalescing: Bool = true) throws -> Doorbell {
        guard [1, 2, 4, 8].contains(width) else { throw DoorbellError.badWidth(name: name, width: width) }
        return try state.withLock { state in
            let slot = state.doorbells.count
            guard slot < Self.capacity else { throw DoorbellError.tableFull(name: name, capacity: Self.capacity) }
            let doorbell = try Doorbell(name: name, space: space, width: width, match: match.map { $0 & Self.mask(width) },
                                        table: self, slot: slot)
            (shapes + slot).initialize(to: Shape(width: width, match: doorbell.match, descriptor: doorbell.event.fileDescriptor,
                                                 coalescing: coalescing))
            state.doorbells.append(doorbell)
            published.store(slot + 1, ordering: .releasing)
            return doorbell
        }
    }

    /// Every doorbell declared, in declaration order.
    public var doorbells: [Doorbell] { state.withLock { $0.doorbells } }

    /// The backend's registrar from now on (nil: none): every doorbell that has an address is
    /// assigned to it. A VM connects its own at creation, replacing the previous boot's. A doorbell
    /// the registrar refuses rings in userspace instead (`ring`), a write's exit later.
    public func connect(_ registrar: (any DoorbellRegistrar)?) {
        state.withLock { state in
            state.registrar = registrar
            guard let registrar else { return }
            for doorbell in state.doorbells {
                let address = addresses[doorbell.slot].load(ordering: .relaxed)
                if address != Self.nowhere { _ = registrar.assign(doorbell, at: address) }
            }
        }
    }

    func address(of doorbell: Doorbell) -> UInt64? {
        let address = addresses[doorbell.slot].load(ordering: .acquiring)
        return address == Self.nowhere ? nil : address
    }

    func move(_ doorbell: Doorbell, to address: UInt64?) {
        state.withLock { state in
            let old = addresses[doorbell.slot].load(ordering: .relaxed)
            let new = address ?? Self.nowhere
            guard old != new else { return }
            if old != Self.nowhere { state.registrar?.deassign(doorbell, at: old) }
            addresses[doorbell.slot].store(new, ordering: .releasing)
            // Refused (another doorbell at that address without a match, say): the write exits
            // to userspace and `ring` finds it there.
            if new != Self.nowhere { _ = state.registrar?.assign(doorbell, at: new) }
        }
    }

    /// Rings the doorbell a write of `size` bytes of `value` at `address` is for, if any; false
    /// when the write is an ordinary one for the bus. The vCPU's hot path: no lock, no allocation.
    @inline(__always)
    public func ring(_ address: UInt64, size: Int, value: UInt64) -> Bool {
        let count = published.load(ordering: .acquiring)
        guard count > 0, address != Self.nowhere else { return false }
        return ring(address, size: size, value: value, count: count)
    }

    private func ring(_ address: UInt64, size: Int, value: UInt64, count: Int) -> Bool {
        for slot in 0..<count where addresses[slot].load(ordering: .relaxed) == address {
            let shape = shapes[slot]
            guard shape.width == size else { continue }
            if let match = shape.match, match != value & Self.mask(size) { continue }
            if !shape.coalescing || pending[slot].wrappingAdd(1, ordering: .acquiringAndReleasing).oldValue == 0 {
                signals[slot].wrappingAdd(1, ordering: .relaxed)
                EventNotifier.signal(shape.descriptor)
            }
            return true
        }
        return false
    }

    /// The userspace rings of `doorbell` since the last take, for its device's thread, which has
    /// read the eventfd just before: a ring after this exchange finds zero and signals again.
    func takePending(_ doorbell: Doorbell) -> UInt64 { pending[doorbell.slot].exchange(0, ordering: .acquiringAndReleasing) }

    /// The eventfd writes `doorbell`'s userspace rings made so far.
    func userspaceSignals(_ doorbell: Doorbell) -> UInt64 { signals[doorbell.slot].load(ordering: .relaxed) }

    static func mask(_ size: Int) -> UInt64 { size >= 8 ? .max : (UInt64(1) << UInt64(size * 8)) &- 1 }
}

public enum DoorbellError: VMMError, Equatable {
    case badWidth(name: String, width: Int)
    case tableFull(name: String, capacity: Int)

    public var description: String {
        switch self {
        case let .badWidth(name, width): return "doorbell '\(name)': a width of \(width) bytes (1, 2, 4 or 8)"
        case let .tableFull(name, capacity): return "doorbell '\(name)': the bus already has \(capacity) doorbells"
        }
    }
}
