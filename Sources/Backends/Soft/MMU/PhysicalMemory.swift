import VMMKit

/// Guest-physical memory as the Soft CPU sees it: RAM/ROM regions (host pointers, checked ranges) and,
/// per 4 KiB page of RAM, what must trap writes: decoded code (per 64-byte chunk in the VM's
/// `SharedCodeMap`, so data sharing a page with code does not invalidate it) and page tables cached
/// by this vCPU's inactive TLB sets.
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
    /// Pages below this are tracked in `pageFlags`.
    let trackedPages: UInt64
    unowned(unsafe) let code: SharedCodeMap
    /// `pageTableBit` for page-table pages while the CR3 cache is on.
    let pageFlags: UnsafeMutablePointer<UInt8>
    /// Pages this vCPU marked as code, to clear when it flushes after overwritten code.
    var codePages: [UInt64] = []

    init(memory: GuestMemory, code: SharedCodeMap) {
        self.code = code
        let list = memory.regions
        regionCount = list.count
        regions = .allocate(capacity: max(list.count, 1))
        for (index, region) in list.enumerated() {
            (regions + index).initialize(to: Region(base: region.guestBase, size: region.size, host: region.host,
                                                    writable: region.kind == .ram))
        }
        trackedPages = code.trackedPages
        let count = Int(max(trackedPages, 1))
        pageFlags = .allocate(capacity: count)
        pageFlags.initialize(repeating: 0, count: count)
    }

    func deallocate() {
        regions.deallocate()
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
        return code.chunksOfPage(page) != 0 || pageFlags[Int(page)] != 0
    }

    /// Records decoded bytes [physical, physical+length) on a page that holds code already; false,
    /// recording nothing, if it holds none yet (`CPUCore.markDecodedCode` then makes it code).
    /// Inlined: called on `CPUCore.physical` from a mutating method, an outlined call would copy the
    /// struct (retaining what it holds) on every decoded block.
    @inline(__always)
    func markMoreCode(_ physical: UInt64, length: Int) -> Bool {
        let page = physical >> 12
        guard page < trackedPages, length > 0 else { return true }
        return code.markIfAny(page: page, bits: SharedCodeMap.chunkBits(offset: physical & 0xfff, length: length))
    }

    /// Records the first decoded bytes of a page.
    mutating func markFirstCode(_ physical: UInt64, length: Int) {
        let page = physical >> 12
        guard page < trackedPages, length > 0 else { return }
        code.mark(page: page, bits: SharedCodeMap.chunkBits(offset: physical & 0xfff, length: length))
        codePages.append(page)
    }

    /// True if a write of `length` bytes at `physical` (within one page) touches decoded code.
    @inline(__always)
    func writeHitsCode(_ physical: UInt64, length: Int) -> Bool {
        let chunks = code.chunksOfPage(physical >> 12)
        return chunks != 0 && chunks & SharedCodeMap.chunkBits(offset: physical & 0xfff, length: length) != 0
    }

    /// Forgets the code this vCPU decoded, after a flush on a machine where it is the only vCPU.
    mutating func clearOwnCode() {
        for page in codePages { code.clear(page: page) }
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
        return before == 0 && code.chunksOfPage(page) == 0
    }

    func isPageTable(_ physical: UInt64) -> Bool {
        let page = physical >> 12
        return page < trackedPages && pageFlags[Int(page)] & Self.pageTableBit != 0
    }
}
