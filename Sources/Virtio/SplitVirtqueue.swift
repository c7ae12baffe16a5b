import Synchronization
import VMMKit

/// The device side of one split virtqueue (virtio 1.2, 2.7): the descriptor table, the driver's
/// available ring and the device's used ring in guest memory. The rings are checked to lie in
/// guest RAM when the queue is configured and then reached through host pointers; every
/// descriptor's buffer is checked before it becomes part of a chain, so a hostile driver can make
/// requests fail or the queue need a reset, never make vmm read or write outside guest RAM, and
/// never make it loop: a chain ends after as many descriptors as its table has.
///
/// One thread (the device's) uses a queue at a time. Popping and pushing allocate nothing.
public final class SplitVirtqueue {
    public struct Layout: Equatable, Sendable {
        public var size: UInt16
        public var descriptorTable: UInt64
        public var availableRing: UInt64
        public var usedRing: UInt64

        public init(size: UInt16, descriptorTable: UInt64, availableRing: UInt64, usedRing: UInt64) {
            self.size = size
            self.descriptorTable = descriptorTable
            self.availableRing = availableRing
            self.usedRing = usedRing
        }
    }

    public enum PopResult: Equatable {
        /// Nothing new in the available ring.
        case empty
        /// `chain` holds the next request.
        case chain
        /// The request at this head is malformed: complete it (with nothing written) and go on.
        case malformed(head: UInt16, VirtqueueError)
        /// The ring itself is broken: the device needs a reset.
        case broken(VirtqueueError)
    }

    static let descriptorSize: UInt64 = 16
    static let nextFlag: UInt16 = 1
    static let writeFlag: UInt16 = 2
    static let indirectFlag: UInt16 = 4
    /// Available ring flags: the driver wants no interrupts (2.7.7).
    static let noInterruptFlag: UInt16 = 1

    public let layout: Layout
    public let chain = DescriptorChain()
    private let memory: GuestMemory
    private let eventIndex: Bool
    private let indirect: Bool
    private let descriptors: UnsafeMutableRawPointer
    private let available: UnsafeMutableRawPointer
    private let used: UnsafeMutableRawPointer
    private var nextAvailable: UInt16 = 0
    private var nextUsed: UInt16 = 0
    /// The used index when the driver was last interrupted (for event index suppression).
    private var signalledUsed: UInt16 = 0

    /// Checks `layout` (2.7: size a power of two up to 32768; table 16-, available ring 2-, used
    /// ring 4-byte aligned; all three in guest RAM) against `features` the driver accepted.
    public init(layout: Layout, memory: GuestMemory, features: UInt64) throws(VirtqueueError) {
        let size = UInt64(layout.size)
        guard size > 0, size <= 32768, size & (size - 1) == 0 else { throw .invalidSize(layout.size) }
        let parts: [(String, UInt64, UInt64, Int)] = [
            ("descriptor table", layout.descriptorTable, 16, Int(16 * size)),
            ("available ring", layout.availableRing, 2, Int(6 + 2 * size)),
            ("used ring", layout.usedRing, 4, Int(6 + 8 * size)),
        ]
        var pointers: [UnsafeMutableRawPointer] = []
        for (name, address, alignment, length) in parts {
            guard address % alignment == 0 else { throw .misaligned(name, address) }
            guard let region = memory.region(containing: address, length: length), region.kind == .ram,
                  let pointer = memory.hostPointer(at: address, length: length) else {
                throw .ringOutsideMemory(name, address)
            }
            pointers.append(pointer)
        }
        self.layout = layout
        self.memory = memory
        eventIndex = features & VirtioFeatures.eventIndex != 0
        indirect = features & VirtioFeatures.indirectDescriptors != 0
        descriptors = pointers[0]
        available = pointers[1]
        used = pointers[2]
    }

    // MARK: ring fields

    @inline(__always)
    private func load16(_ base: UnsafeMutableRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    @inline(__always)
    private func store16(_ base: UnsafeMutableRawPointer, _ offset: Int, _ value: UInt16) {
        base.storeBytes(of: value.littleEndian, toByteOffset: offset, as: UInt16.self)
    }

    private var size: Int { Int(layout.size) }

    // MARK: popping

    /// Takes the next available chain, if any.
    public func pop() -> PopResult {
        if eventIndex {
            // The avail_event store of the previous pop must be visible before the index is read:
            // otherwise the driver may read the old avail_event after publishing a new entry, not
            // notify, and find its request never served while this found the ring empty.
            atomicMemoryFence(ordering: .sequentiallyConsistent)
        }
        let availableIndex = load16(available, 2)
        guard availableIndex != nextAvailable else { return .empty }
        guard availableIndex &- nextAvailable <= layout.size else {
            return .broken(.availableIndexJump(from: nextAvailable, to: availableIndex))
        }
        // The ring entry is read after the index that published it (2.7.13).
        atomicMemoryFence(ordering: .acquiring)
        let head = load16(available, 4 + 2 * (Int(nextAvailable) % size))
        nextAvailable &+= 1
        if eventIndex {
            // avail_event: notify me once you pass what I have taken (2.7.10).
            store16(used, 4 + 8 * size, nextAvailable)
        }
        guard head < layout.size else { return .broken(.headOutOfRange(head)) }
        if let error = walk(head: head) { return .malformed(head: head, error) }
        return .chain
    }

    /// Follows the chain at `head` into `chain`, or says why it is malformed.
    private func walk(head: UInt16) -> VirtqueueError? {
        chain.start(head: head)
        var table = descriptors
        var tableSize = size
        var index = Int(head)
        var visited = 0
        var inIndirect = false
        var sawWritable = false
        while true {
            visited += 1
            guard visited <= tableSize else { return .chainTooLong }
            let entry = table + index * Int(Self.descriptorSize)
            let address = UInt64(littleEndian: entry.loadUnaligned(as: UInt64.self))
            let length = UInt32(littleEndian: entry.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
            let flags = load16(entry, 12)
            let next = load16(entry, 14)
            if flags & Self.indirectFlag != 0 {
                guard indirect else { return .indirectNotNegotiated }
                guard !inIndirect else { return .nestedIndirect }
                guard flags & Self.nextFlag == 0 else { return .indirectWithNext }
                let entries = Int(length) / Int(Self.descriptorSize)
                guard length > 0, length % UInt32(Self.descriptorSize) == 0, entries <= 32768 else {
                    return .badIndirectLength(length)
                }
                guard let pointer = memory.hostPointer(at: address, length: Int(length)) else {
                    return .outsideMemory(address: address, length: length)
                }
                (table, tableSize, index, visited, inIndirect) = (pointer, entries, 0, 0, true)
                continue
            }
            guard length > 0 else { return .zeroLength }
            let writable = flags & Self.writeFlag != 0
            guard let region = memory.region(containing: address, length: Int(length)),
                  !writable || region.kind == .ram else {
                return .outsideMemory(address: address, length: length)
            }
            if writable { sawWritable = true } else if sawWritable { return .readableAfterWritable }
            let host = region.host + Int(address - region.guestBase)
            guard chain.append(.init(host: host, length: Int(length), writable: writable)) else { return .chainTooLong }
            guard flags & Self.nextFlag != 0 else { return nil }
            guard Int(next) < tableSize else { return .nextOutOfRange(next) }
            index = Int(next)
        }
    }

    // MARK: pushing

    /// Returns the chain at `head` to the driver with `written` bytes written into its buffers.
    public func push(head: UInt16, written: UInt32) {
        let slot = used + 4 + 8 * (Int(nextUsed) % size)
        slot.storeBytes(of: UInt32(head).littleEndian, as: UInt32.self)
        slot.storeBytes(of: written.littleEndian, toByteOffset: 4, as: UInt32.self)
        // The entry is visible before the index that publishes it (2.7.8).
        atomicMemoryFence(ordering: .releasing)
        nextUsed &+= 1
        store16(used, 2, nextUsed)
    }

    /// Whether the driver wants an interrupt for what was pushed since the last time this said
    /// yes: with event index, when used_event lies among the new entries (2.7.10's
    /// vring_need_event); without it, unless the driver set NO_INTERRUPT (2.7.7).
    public func needsInterrupt() -> Bool {
        // The used index store must be visible before the driver's suppression field is read,
        // or an interrupt the driver waits for could be missed.
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        let old = signalledUsed
        guard nextUsed != old else { return false }
        signalledUsed = nextUsed
        if eventIndex {
            let usedEvent = load16(available, 4 + 2 * size)
            return nextUsed &- usedEvent &- 1 < nextUsed &- old
        }
        return load16(available, 0) & Self.noInterruptFlag == 0
    }
}
