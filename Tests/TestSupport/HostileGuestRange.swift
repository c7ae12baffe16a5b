import VMMKit

/// Guest-physical ranges a hostile guest or file names to make vmm touch memory it does not own: one
/// crossing the end of each region and one just past it (unless another region starts there), one crossing 2^32 (from the MMIO hole
/// into RAM above 4 GiB when there is some), ones wrapping at 2^64 (back to address 0, which is
/// RAM), ones inside the MMIO hole, and a length no guest memory has. Every accessor must refuse
/// each or stop at its edge, never reach host memory beyond a region.
public struct HostileGuestRange: CustomStringConvertible, Sendable {
    public let what: String
    public let address: UInt64
    public let length: Int

    public var description: String { "\(what) (0x\(String(address, radix: 16)), \(length) bytes)" }

    /// The ranges for `memory`'s layout.
    public static func all(in memory: GuestMemory) -> [HostileGuestRange] {
        memory.regions.flatMap { region in
            [HostileGuestRange(what: "crossing the end of \(region.name)", address: region.guestEnd - 8, length: 16)]
                + (memory.region(containing: region.guestEnd, length: 1) == nil
                    ? [HostileGuestRange(what: "just past \(region.name)", address: region.guestEnd, length: 4)] : [])
        } + [
            HostileGuestRange(what: "crossing 2^32", address: 0xFFFF_FFF8, length: 16),
            HostileGuestRange(what: "wrapping at 2^64 to address 0", address: 0xFFFF_FFFF_FFFF_FFF8, length: 16),
            HostileGuestRange(what: "the last byte of the address space and one more", address: .max, length: 2),
            HostileGuestRange(what: "inside the MMIO hole (the local APIC page)", address: 0xFEE0_0000, length: 16),
            HostileGuestRange(what: "at the start of the MMIO hole", address: PCMemoryMap.mmioHoleStart, length: 4),
            HostileGuestRange(what: "a length beyond any RAM", address: 0, length: 1 << 47),
        ]
    }

    /// A small PC-shaped guest memory: `lowSize` bytes of RAM from 0, the MMIO hole, and 64 KiB of RAM
    /// from 4 GiB, so that a range crossing 2^32 ends in RAM.
    public static func pcShapedMemory(lowSize: UInt64 = 2 << 20) throws -> GuestMemory {
        let memory = GuestMemory()
        try memory.addRegion(name: "low RAM", at: 0, size: lowSize)
        try memory.addRegion(name: "high RAM", at: PCMemoryMap.highMemoryStart, size: 64 << 10)
        return memory
    }
}
