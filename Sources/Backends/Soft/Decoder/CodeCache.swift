/// Decoded instructions grouped in blocks, keyed by the guest-physical address (and code size) of the
/// first instruction, so a block is found again whatever linear address maps it. A block ends at a
/// control transfer or a page boundary. Blocks are dropped all at once when the pool fills (QEMU's
/// tb_flush), and a page's blocks alone when that page's code is overwritten on a machine with one
/// vCPU (QEMU's tb_invalidate_phys_page): an operating system reuses the pages of exited processes'
/// code all the time, and dropping everything each time would decode and translate its whole
/// working set again.
struct CodeCache {
    struct Block {
        var key: UInt64
        var start: Int32
        var count: Int32
    }

    static let poolCapacity = 1 << 18
    static let tableSize = 1 << 15
    static let maxBlockLength = 64
    static let emptyKey = UInt64.max

    /// A block found by linear address, valid while `epoch` matches the CPU's `blockEpoch`.
    struct RecentBlock {
        var linear: UInt64
        var epoch: UInt64
        var start: UnsafeMutablePointer<DecodedInstruction>
        var count: Int
    }

    static let recentSize = 4096

    let pool: UnsafeMutablePointer<DecodedInstruction>
    let table: UnsafeMutablePointer<Block>
    /// Linear-address shortcut in front of the physical lookup: a hit skips the fetch TLB and the hash.
    let recent: UnsafeMutablePointer<RecentBlock>
    var used = 0

    init() {
        pool = .allocate(capacity: Self.poolCapacity + Self.maxBlockLength)
        pool.initialize(repeating: DecodedInstruction(), count: Self.poolCapacity + Self.maxBlockLength)
        table = .allocate(capacity: Self.tableSize)
        table.initialize(repeating: Block(key: Self.emptyKey, start: 0, count: 0), count: Self.tableSize)
        recent = .allocate(capacity: Self.recentSize)
        recent.initialize(repeating: RecentBlock(linear: 0, epoch: 0, start: pool, count: 0), count: Self.recentSize)
    }

    @inline(__always)
    static func recentSlot(_ linear: UInt64) -> Int { Int(truncatingIfNeeded: linear ^ (linear &>> 12)) & (recentSize - 1) }

    func deallocate() {
        pool.deallocate()
        table.deallocate()
        recent.deallocate()
    }

    @inline(__always)
    static func key(physical: UInt64, codeSize: UInt8) -> UInt64 { physical << 4 | UInt64(codeSize) }

    @inline(__always)
    static func slot(_ key: UInt64) -> Int {
        Int(truncatingIfNeeded: (key >> 4) ^ (key >> 17)) & (tableSize - 1)
    }

    @inline(__always)
    func lookup(_ key: UInt64) -> Block? {
        let block = table[Self.slot(key)]
        return block.key == key ? block : nil
    }

    var hasRoomForBlock: Bool { used + Self.maxBlockLength <= Self.poolCapacity }

    mutating func flush() {
        for index in 0..<Self.tableSize { table[index].key = Self.emptyKey }
        used = 0
    }

    /// Forgets the blocks that start on guest-physical page `page` (a block never crosses a page).
    /// Their entries stay in the pool, unreachable, until the next `flush`.
    mutating func forget(page: UInt64) {
        for index in 0..<Self.tableSize where table[index].key != Self.emptyKey && table[index].key >> 16 == page {
            table[index].key = Self.emptyKey
        }
    }
}
