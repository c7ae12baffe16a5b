import VMMKit

/// Guest-physical memory as the Soft CPU sees it: RAM/ROM regions (host pointers, checked ranges) and,
/// per 4 KiB page of RAM, what must trap writes: decoded code (per 64-byte chunk, so data that shares a
/// page with code does not invalidate it) and page tables cached by inactive TLB sets.
struct PhysicalMemory {
    struct Region {
        let base: UInt64
        let size: UInt64
        let host: UnsafeMutableRawPointer
        let writable: Bool
    }

    static let pageTableBit: UInt8 = 1 << 1

    let regions: UnsafeMutablePointer<Region>
    let regionCount: Int
    /// Pages below this are tracked in `codeChunks` / `pageFlags`.
    let trackedPages: UInt64
    /// Bit n set: bytes [64n, 64n+63] of the page hold decoded instructions.
    let codeChunks: UnsafeMutablePointer<UInt64>
    /// `pageTableBit` for page-table pages while the CR3 cache is on.
    let pageFlags: UnsafeMutablePointer<UInt8>
    /// Pages with a non-zero `codeChunks` entry, to clear them when the code cache is flushed.
    var codePages: [UInt64] = []

    init(memory: GuestMemory) {
        let list = memory.regions
        regionCount = list.count
        regions = .allocate(capacity: max(list.count, 1))
        for (index, region) in list.enumerated() {
            (regions + index).initialize(to: Region(base: region.guestBase, size: region.size, host: region.host,
                                                    writable: region.kind == .ram))
        }
        let end = list.map(\.guestEnd).max() ?? 0
        trackedPages = end >> 12
        let count = Int(max(trackedPages, 1))
        codeChunks = .allocate(capacity: count)
        codeChunks.initialize(repeating: 0, count: count)
        pageFlags = .allocate(capacity: count)
        pageFlags.initialize(repeating: 0, count: count)
    }

    func deallocate() {
        regions.deallocate()
        codeChunks.deallocate()
        pageFlags.deallocate()
    }

    /// The region holding the page at `physical`, or nil for MMIO / unmapped space.
    @inline(__always)
    func region(of physical: UInt64) -> Region? {
        for index in 0..<regionCount {
            let region = regions[index]
            if physical >= region.base && physical &- region.base < region.size { return region }
        }
        return nil
    }

    /// Host address of the page containing `physical`, if it is RAM or ROM.
    func hostPage(_ physical: UInt64) -> (host: UnsafeMutableRawPointer, writable: Bool)? {
        let page = physical & ~0xfff
        guard let region = region(of: page) else { return nil }
        return (region.host + Int(page - region.base), region.writable)
    }

    /// True when writes to the page must go through the slow path.
    @inline(__always)
    func writeTrapped(_ physicalPage: UInt64) -> Bool {
        let page = physicalPage >> 12
        guard page < trackedPages else { return false }
        return codeChunks[Int(page)] != 0 || pageFlags[Int(page)] != 0
    }

    /// Records decoded bytes [physical, physical+length); true if the page was not code before, so
    /// write TLB entries for it must be dropped.
    mutating func markCode(_ physical: UInt64, length: Int) -> Bool {
        let page = physical >> 12
        guard page < trackedPages, length > 0 else { return false }
        let first = (physical & 0xfff) >> 6, last = ((physical & 0xfff) + UInt64(length) - 1) >> 6
        let bits = (last >= 63 ? UInt64.max : (UInt64(1) << (last + 1)) - 1) & ~((UInt64(1) << first) - 1)
        let before = codeChunks[Int(page)]
        codeChunks[Int(page)] = before | bits
        if before == 0 {
            codePages.append(page)
            return pageFlags[Int(page)] == 0
        }
        return false
    }

    /// True if a write of `length` bytes at `physical` (within one page) touches decoded code.
    @inline(__always)
    func writeHitsCode(_ physical: UInt64, length: Int) -> Bool {
        let page = physical >> 12
        guard page < trackedPages else { return false }
        let chunks = codeChunks[Int(page)]
        guard chunks != 0 else { return false }
        let first = (physical & 0xfff) >> 6, last = ((physical & 0xfff) + UInt64(max(length, 1)) - 1) >> 6
        for chunk in first...min(last, 63) where chunks & (1 << chunk) != 0 { return true }
        return false
    }

    /// Forgets all decoded code (the code cache was flushed).
    mutating func clearCode() {
        for page in codePages { codeChunks[Int(page)] = 0 }
        codePages.removeAll(keepingCapacity: true)
    }

    /// Marks a page-table page; true if it was not trapped before.
    @inline(__always)
    func markPageTable(_ physical: UInt64) -> Bool {
        let page = physical >> 12
        guard page < trackedPages else { return false }
        let before = pageFlags[Int(page)]
        guard before & Self.pageTableBit == 0 else { return false }
        pageFlags[Int(page)] = before | Self.pageTableBit
        return before == 0 && codeChunks[Int(page)] == 0
    }

    func isPageTable(_ physical: UInt64) -> Bool {
        let page = physical >> 12
        return page < trackedPages && pageFlags[Int(page)] & Self.pageTableBit != 0
    }
}
