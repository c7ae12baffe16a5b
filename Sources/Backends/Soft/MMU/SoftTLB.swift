/// One translation cached for one kind of access: a hit is one compare plus one add.
struct TLBEntry {
    /// Linear page number, or `invalidTag`.
    var tag: UInt64
    /// Host address of the first byte of the page.
    var host: UnsafeMutableRawPointer
    /// Guest-physical address of the page.
    var physicalPage: UInt64
    /// Survives CR3 writes when CR4.PGE is set (SDM vol. 3, 4.10.2.4).
    var global: Bool
}

enum AccessKind: Int {
    case read = 0, write = 1, execute = 2
}

/// The software TLB (QEMU softmmu's idea): per access kind and privilege, a direct-mapped array of
/// linear page -> host page. Reads, writes and fetches are cached separately, so a hit needs no
/// permission check: an entry only exists where that access is allowed.
///
/// There are `sets` such groups, each tagged with the CR3 it was filled under (the CR3-target cache of
/// KVM's 2007 paravirtual MMU work): switching back to a recent address space keeps its entries.
/// Entries of inactive sets can go stale only when the guest writes a page table, so the physical
/// memory tracker write-protects page-table pages while the cache is on and drops inactive sets on
/// such writes (`PhysicalMemory.pageTableBit`).
struct SoftTLB {
    static let entriesPerArray = 1024
    static let sets = 4
    static let invalidTag = UInt64.max
    private static let arraysPerSet = 6

    let entries: UnsafeMutablePointer<TLBEntry>
    /// Invalid entries point here, so no entry ever holds a nil pointer.
    private let placeholder: UnsafeMutableRawPointer
    private let setCR3: UnsafeMutablePointer<UInt64>
    private let setLastUse: UnsafeMutablePointer<UInt64>
    /// Per set, how many times entries of it were dropped: a block found by linear address under one
    /// generation of a set may map elsewhere under the next (`BlockEpochs`).
    private let setGeneration: UnsafeMutablePointer<UInt64>
    private(set) var active = 0
    private var clock: UInt64 = 0
    /// When false a single set is used and every CR3 write flushes it, as on hardware without PCIDs.
    var cr3CacheEnabled: Bool
    /// A page table was written while the active set was in use (`pageTableWritten`).
    private var activeSetMayBeStale = false
    /// Page walks that filled an entry.
    var refills: UInt64 = 0
    /// Walk results for 2 MiB regions of large pages in the current address space: a 4 KiB TLB miss
    /// inside a large page needs no walk.
    var largePages = LargePageCache()
    /// log2 of the largest page cached since the last full flush: INVLPG must drop the whole large
    /// page, and entries here are 4 KiB pieces of it.
    var largestPageShift: UInt64 = 12

    init() {
        let count = Self.sets * Self.arraysPerSet * Self.entriesPerArray
        placeholder = .allocate(byteCount: 4096, alignment: 4096)
        placeholder.initializeMemory(as: UInt8.self, repeating: 0, count: 4096)
        entries = .allocate(capacity: count)
        entries.initialize(repeating: TLBEntry(tag: Self.invalidTag, host: placeholder, physicalPage: 0, global: false),
                           count: count)
        setCR3 = .allocate(capacity: Self.sets)
        setCR3.initialize(repeating: UInt64.max, count: Self.sets)
        setLastUse = .allocate(capacity: Self.sets)
        setLastUse.initialize(repeating: 0, count: Self.sets)
        setGeneration = .allocate(capacity: Self.sets)
        setGeneration.initialize(repeating: 0, count: Self.sets)
        cr3CacheEnabled = SoftTLB.defaultCR3CacheEnabled
    }

    /// `VMM_SOFT_CR3_CACHE=0` turns the CR3-keyed sets off for a whole process.
    static var defaultCR3CacheEnabled: Bool {
        guard let value = getenv("VMM_SOFT_CR3_CACHE") else { return true }
        return String(cString: value) != "0"
    }

    func deallocate() {
        largePages.deallocate()
        entries.deallocate()
        placeholder.deallocate()
        setCR3.deallocate()
        setLastUse.deallocate()
        setGeneration.deallocate()
    }

    /// The generation of the active set (see `setGeneration`).
    var activeGeneration: UInt64 { setGeneration[active] }

    @inline(__always)
    func current(_ kind: AccessKind, user: Bool) -> UnsafeMutablePointer<TLBEntry> {
        entries + ((active * 2 + (user ? 1 : 0)) * 3 + kind.rawValue) * Self.entriesPerArray
    }

    @inline(__always)
    static func slot(_ linear: UInt64) -> Int { Int(truncatingIfNeeded: linear >> 12) & (entriesPerArray - 1) }

    func install(_ array: UnsafeMutablePointer<TLBEntry>, linear: UInt64, host: UnsafeMutableRawPointer,
                 physicalPage: UInt64, global: Bool) {
        array[Self.slot(linear)] = TLBEntry(tag: linear >> 12, host: host, physicalPage: physicalPage, global: global)
    }

    private func clear(set: Int, keepGlobal: Bool) {
        setGeneration[set] &+= 1
        let base = entries + set * Self.arraysPerSet * Self.entriesPerArray
        for index in 0..<(Self.arraysPerSet * Self.entriesPerArray) where !(keepGlobal && base[index].global) {
            base[index].tag = Self.invalidTag
        }
    }

    /// A MOV to CR3: reuse the set tagged with `cr3` if the cache is on, else recycle the least recently
    /// used set (SDM vol. 3, 4.10.4.1: non-global translations are invalidated).
    mutating func switchAddressSpace(cr3: UInt64) {
        clock &+= 1
        largePages.clear()
        guard cr3CacheEnabled else {
            active = 0
            clear(set: 0, keepGlobal: true)
            return
        }
        if activeSetMayBeStale {
            // Page tables changed under the active set: this MOV to CR3 is the guest's flush of its
            // non-global entries (SDM vol. 3, 4.10.4.1), so the set is emptied and forgotten.
            clear(set: active, keepGlobal: true)
            setCR3[active] = UInt64.max
            activeSetMayBeStale = false
        }
        if let hit = (0..<Self.sets).first(where: { setCR3[$0] == cr3 }) {
            active = hit
        } else {
            let victim = (0..<Self.sets).min { setLastUse[$0] < setLastUse[$1] } ?? 0
            clear(set: victim, keepGlobal: true)
            setCR3[victim] = cr3
            active = victim
        }
        setLastUse[active] = clock
    }

    /// A page-table page was written. Inactive sets may now hold translations that no longer
    /// exist, so they go at once. The active set is the guest's business until it flushes: by
    /// INVLPG, or by writing CR3, after which the set must not be found again (see
    /// `switchAddressSpace`): Linux, for one, write-protects a parent's pages on fork and then
    /// reloads CR3 to make that take effect.
    mutating func pageTableWritten() {
        flushInactiveSets()
        activeSetMayBeStale = true
    }

    /// Drops every set but the active one.
    private mutating func flushInactiveSets() {
        for set in 0..<Self.sets where set != active && setCR3[set] != UInt64.max {
            clear(set: set, keepGlobal: false)
            setCR3[set] = UInt64.max
        }
    }


    /// Everything, globals included (CR4.PGE/PAE/PSE changes, CR0.PG/WP changes).
    mutating func flushAll() {
        for set in 0..<Self.sets { clear(set: set, keepGlobal: false) }
        largePages.clear()
        largestPageShift = 12
    }

    /// Only the write arrays: a page just became code or a page table and must trap writes.
    func flushWrites() {
        for set in 0..<Self.sets {
            for user in 0..<2 {
                let base = entries + ((set * 2 + user) * 3 + AccessKind.write.rawValue) * Self.entriesPerArray
                for index in 0..<Self.entriesPerArray { base[index].tag = Self.invalidTag }
            }
        }
    }

    /// INVLPG: the page in every array of every set (global entries are shared by all of them).
    mutating func flushPage(_ linear: UInt64) {
        largePages.clear()
        for set in 0..<Self.sets { setGeneration[set] &+= 1 }
        if largestPageShift > 12 {
            let span = largestPageShift - 12
            let all = Self.sets * Self.arraysPerSet * Self.entriesPerArray
            for index in 0..<all where entries[index].tag >> span == linear >> largestPageShift {
                entries[index].tag = Self.invalidTag
            }
            return
        }
        let slot = Self.slot(linear)
        for array in 0..<(Self.sets * Self.arraysPerSet) {
            let entry = entries + array * Self.entriesPerArray + slot
            if entry.pointee.tag == linear >> 12 { entry.pointee.tag = Self.invalidTag }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
