import Virtio
import VMMKit

/// The driver's half of a split virtqueue in a small guest memory, written as a driver would:
/// descriptors, available ring entries, and the used ring read back.
struct DriverSide {
    static let descriptorTable: UInt64 = 0x1000
    static let availableRing: UInt64 = 0x2000
    static let usedRing: UInt64 = 0x3000
    /// Where test buffers and indirect tables go.
    static let buffers: UInt64 = 0x10000

    let memory: GuestMemory
    let size: UInt16
    var availableIndex: UInt16 = 0

    init(size: UInt16 = 8) throws {
        memory = GuestMemory()
        try memory.addRegion(name: "RAM", at: 0, size: 1 << 20)
        self.size = size
    }

    var layout: SplitVirtqueue.Layout {
        .init(size: size, descriptorTable: Self.descriptorTable, availableRing: Self.availableRing, usedRing: Self.usedRing)
    }

    func queue(features: UInt64 = VirtioFeatures.indirectDescriptors | VirtioFeatures.eventIndex) throws -> SplitVirtqueue {
        try SplitVirtqueue(layout: layout, memory: memory, features: features)
    }

    static let next: UInt16 = 1, write: UInt16 = 2, indirect: UInt16 = 4

    func descriptor(_ index: Int, table: UInt64 = descriptorTable, address: UInt64, length: UInt32,
                    flags: UInt16 = 0, next: UInt16 = 0) throws {
        let entry = table + UInt64(index) * 16
        try memory.write(address, at: entry)
        try memory.write(length, at: entry + 8)
        try memory.write(flags, at: entry + 12)
        try memory.write(next, at: entry + 14)
    }

    /// Makes `head` available.
    mutating func offer(_ head: UInt16) throws {
        try memory.write(head, at: Self.availableRing + 4 + 2 * UInt64(availableIndex % size))
        availableIndex &+= 1
        try memory.write(availableIndex, at: Self.availableRing + 2)
    }

    func setAvailableIndex(_ index: UInt16) throws { try memory.write(index, at: Self.availableRing + 2) }
    func setUsedEvent(_ value: UInt16) throws { try memory.write(value, at: Self.availableRing + 4 + 2 * UInt64(size)) }
    func setNoInterrupt(_ on: Bool) throws { try memory.write(UInt16(on ? 1 : 0), at: Self.availableRing) }

    var usedIndex: UInt16 { (try? memory.read(UInt16.self, at: Self.usedRing + 2)) ?? 0xDEAD }
    var availableEvent: UInt16 { (try? memory.read(UInt16.self, at: Self.usedRing + 4 + 8 * UInt64(size))) ?? 0xDEAD }

    func usedEntry(_ slot: Int) throws -> (id: UInt32, length: UInt32) {
        let entry = Self.usedRing + 4 + 8 * UInt64(slot)
        return (try memory.read(UInt32.self, at: entry), try memory.read(UInt32.self, at: entry + 4))
    }
}
