import Synchronization
import VMMKit

/// Guest memory accesses: segment offset -> linear (segmentation) -> host pointer (software TLB), with
/// page walks, MMIO and self-modifying-code detection on the slow path.
extension CPUCore {
    // MARK: segment-relative accesses

    @inline(__always)
    mutating func linearAddress(_ segment: Int, _ offset: UInt64, _ size: Int, write: Bool) throws(Fault) -> UInt64 {
        if segmentNeedsLimitCheck[segment] { try checkLimit(segment, offset, size, write: write) }
        return (segmentBase[segment] &+ offset) & linearMask
    }

    @inline(__always)
    mutating func read(_ segment: Int, _ offset: UInt64, _ size: UInt8) throws(Fault) -> UInt64 {
        try readLinear(try linearAddress(segment, offset, Int(size), write: false), size)
    }

    @inline(__always)
    mutating func write(_ segment: Int, _ offset: UInt64, _ size: UInt8, _ value: UInt64) throws(Fault) {
        try writeLinear(try linearAddress(segment, offset, Int(size), write: true), size, value)
    }

    /// Segment limit and type checks for non-flat segments (SDM vol. 3, 5.3 and 5.4.1).
    mutating func checkLimit(_ segment: Int, _ offset: UInt64, _ size: Int, write: Bool) throws(Fault) {
        let cache = segments[segment]
        let fault = segment == Segment.ss ? Fault.ss() : Fault.gp()
        if protectedMode && !v86Mode {
            if cache.unusable { throw fault }
            if write && (cache.isCode || cache.type & 2 == 0) { throw fault }
            if !write && cache.isCode && cache.type & 2 == 0 { throw fault }
        }
        let last = offset &+ UInt64(size) &- 1
        if cache.isExpandDown {
            let upper: UInt64 = cache.db ? 0xffff_ffff : 0xffff
            guard offset > UInt64(cache.limit), last <= upper, last >= offset else { throw fault }
        } else {
            guard last <= UInt64(cache.limit), last >= offset else { throw fault }
        }
    }

    // MARK: linear accesses

    @inline(__always)
    mutating func readLinear(_ linear: UInt64, _ size: UInt8) throws(Fault) -> UInt64 {
        let entry = tlbRead[SoftTLB.slot(linear)]
        let offset = Int(truncatingIfNeeded: linear & 0xfff)
        if entry.tag == linear >> 12 && offset &+ Int(size) <= 0x1000 {
            return Self.load(entry.host + offset, size)
        }
        return try readLinearSlow(linear, size, user: cpl == 3)
    }

    @inline(__always)
    mutating func writeLinear(_ linear: UInt64, _ size: UInt8, _ value: UInt64) throws(Fault) {
        let entry = tlbWrite[SoftTLB.slot(linear)]
        let offset = Int(truncatingIfNeeded: linear & 0xfff)
        if entry.tag == linear >> 12 && offset &+ Int(size) <= 0x1000 {
            Self.store(entry.host + offset, size, value)
            return
        }
        try writeLinearSlow(linear, size, value, user: cpl == 3)
    }

    @inline(__always)
    static func load(_ pointer: UnsafeMutableRawPointer, _ size: UInt8) -> UInt64 {
        switch size {
        case 1: return UInt64(pointer.load(as: UInt8.self))
        case 2: return UInt64(UInt16(littleEndian: pointer.loadUnaligned(as: UInt16.self)))
        case 4: return UInt64(UInt32(littleEndian: pointer.loadUnaligned(as: UInt32.self)))
        default: return UInt64(littleEndian: pointer.loadUnaligned(as: UInt64.self))
        }
    }

    @inline(__always)
    static func store(_ pointer: UnsafeMutableRawPointer, _ size: UInt8, _ value: UInt64) {
        switch size {
        case 1: pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: pointer.storeBytes(of: UInt16(truncatingIfNeeded: value).littleEndian, as: UInt16.self)
        case 4: pointer.storeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, as: UInt32.self)
        default: pointer.storeBytes(of: value.littleEndian, as: UInt64.self)
        }
    }

    /// Reads through a page walk; fills the TLB for RAM/ROM, goes to the MMIO bus otherwise. An access
    /// crossing a page boundary is split into bytes after both pages are translated.
    mutating func readLinearSlow(_ linear: UInt64, _ size: UInt8, user: Bool) throws(Fault) -> UInt64 {
        let watched = watchesData
        if watched { noteDataAccess(linear, Int(size), write: false) }
        if (linear & 0xfff) + UInt64(size) > 0x1000 {
            _ = try translate(((linear | 0xfff) &+ 1) & linearMask, .read, user: user)
            var value: UInt64 = 0
            for byte in 0..<UInt64(size) {
                value |= try readLinearSlow((linear &+ byte) & linearMask, 1, user: user) << (byte * 8)
            }
            return value
        }
        let translation = try translate(linear, .read, user: user)
        if let page = physical.hostPage(translation.physical) {
            if user == (cpl == 3) && !(watched && pageIsWatched(linear)) { install(tlbRead, linear, page.host, translation) }
            return Self.load(page.host + Int(linear & 0xfff), size)
        }
        statistics.mmio.increment()
        return machine.mmio.read(translation.physical, size: Int(size), vcpu: vcpuIndex)
    }

    mutating func writeLinearSlow(_ linear: UInt64, _ size: UInt8, _ value: UInt64, user: Bool) throws(Fault) {
        let watched = watchesData
        if watched { noteDataAccess(linear, Int(size), write: true) }
        if (linear & 0xfff) + UInt64(size) > 0x1000 {
            _ = try translate(linear, .write, user: user)
            _ = try translate(((linear | 0xfff) &+ 1) & linearMask, .write, user: user)
            for byte in 0..<UInt64(size) {
                try writeLinearSlow((linear &+ byte) & linearMask, 1, value >> (byte * 8), user: user)
            }
            return
        }
        let translation = try translate(linear, .write, user: user)
        guard let page = physical.hostPage(translation.physical) else {
            if machine.mmio.doorbells.ring(translation.physical, size: Int(size), value: value) {
                statistics.doorbells.increment()
                return
            }
            statistics.mmio.increment()
            machine.mmio.write(translation.physical, size: Int(size), value: value, vcpu: vcpuIndex)
            return
        }
        guard page.writable else { return }
        Self.store(page.host + Int(linear & 0xfff), size, value)
        // The store before the look at the code map, against a decoder on another vCPU that marks
        // before it reads (`SharedCodeMap.mark`).
        if machine.vcpuCount > 1 { atomicMemoryFence(ordering: .sequentiallyConsistent) }
        let physicalPage = translation.physical & ~0xfff
        if physical.writeTrapped(physicalPage) {
            writeToTrappedPage(translation.physical, Int(size))
        } else {
            // Another vCPU's flush may have unmarked this page while this one still runs blocks
            // decoded from it: end the block, so the flush is caught up with before the next one.
            if machine.vcpuCount > 1 && physical.code.codeEpoch.load(ordering: .sequentiallyConsistent) != seenCodeEpoch {
                breakBlock = true
                signals.kick()
            }
            guard user == (cpl == 3), !(watched && pageIsWatched(linear)) else { return }
            install(tlbWrite, linear, page.host, translation)
            install(tlbRead, linear, page.host, translation)
        }
    }

    /// A write reached a page holding decoded code or a cached page table.
    mutating func writeToTrappedPage(_ physicalAddress: UInt64, _ size: Int) {
        if physical.writeHitsCode(physicalAddress, length: size) {
            flushCodeCache(overwritten: physicalAddress)
        }
        if physical.isPageTable(physicalAddress) { tlb.pageTableWritten() }
    }

    /// Drops every decoded block: code at `overwritten` was written (self- or cross-modifying code),
    /// or, with nil, the cache is full. Alone, the vCPU clears the marks of the pages it decoded.
    /// With several vCPUs, overwritten code makes all of them drop theirs: the written page's marks
    /// are cleared and the epoch moves inside the exclusive section, so no vCPU runs between the two
    /// (it would see the page unmarked, write it untrapped and keep running its decoded copy), and
    /// each catches up before it runs again, by its next block at the latest (SDM vol. 3, 9.1.3 asks
    /// for no later than its next serializing instruction). Marks of other pages stay (a page whose
    /// code is gone costs at most one more flush, when it is next written), and a full cache is this
    /// vCPU's business only.
    mutating func flushCodeCache(overwritten physicalAddress: UInt64? = nil) {
        guard machine.vcpuCount > 1 else {
            if let physicalAddress {
                // The overwritten page's blocks only (`CodeCache.forget(page:)`); the epoch move drops
                // every linear shortcut and jump-cache chain, which may lead into them.
                let page = physicalAddress >> 12
                codeCache.forget(page: page)
                physical.code.clear(page: page)
                invalidateBlockShortcuts()
            } else {
                dropDecodedCode()
                physical.clearOwnCode()
            }
            return
        }
        physical.codePages.removeAll(keepingCapacity: true)
        if let physicalAddress {
            beginExclusive()
            physical.code.clear(page: physicalAddress >> 12)
            seenCodeEpoch = physical.code.codeEpoch.add(1, ordering: .sequentiallyConsistent).newValue
            endExclusive()
        }
        dropDecodedCode()
    }

    /// This vCPU's half of a flush: the blocks go, the shared map is someone else's business.
    mutating func dropDecodedCode() {
        native.flush(count: codeCache.used)
        codeCache.flush()
        invalidateBlockShortcuts()
    }

    /// Records decoded bytes [physicalAddress, +length) in the code map before the decoder reads them,
    /// so that a write by another vCPU either lands before the read or sees the mark and flushes
    /// (SDM vol. 3, 9.1.3). A page's first code is recorded inside the exclusive section, where
    /// every vCPU's write-TLB entries are dropped (here at once, elsewhere before the vCPU runs on):
    /// a page with marks then never has write-TLB entries on any vCPU that runs, so no write to it
    /// misses the trap. (Marks are cleared only in the section too, by `flushCodeCache`.)
    mutating func markDecodedCode(_ physicalAddress: UInt64, length: Int) {
        if physical.markMoreCode(physicalAddress, length: length) { return }
        beginExclusive()
        if !physical.markMoreCode(physicalAddress, length: length) {
            physical.markFirstCode(physicalAddress, length: length)
            tlb.flushWrites()
            if machine.vcpuCount > 1 {
                seenWriteTrapEpoch = physical.code.writeTrapEpoch.add(1, ordering: .sequentiallyConsistent).newValue
            }
        }
        endExclusive()
    }

    /// Catches up with other vCPUs' code-map changes (between blocks: after a kick, a sleep or another
    /// vCPU's exclusive section).
    mutating func synchronizeCodeMap() {
        let code = physical.code.codeEpoch.load(ordering: .sequentiallyConsistent)
        if code != seenCodeEpoch {
            seenCodeEpoch = code
            dropDecodedCode()
            physical.codePages.removeAll(keepingCapacity: true)
        }
        synchronizeWriteTraps()
    }

    /// Drops write-TLB entries if another vCPU made a page code since this one last looked.
    mutating func synchronizeWriteTraps() {
        let writeTrap = physical.code.writeTrapEpoch.load(ordering: .sequentiallyConsistent)
        if writeTrap != seenWriteTrapEpoch {
            seenWriteTrapEpoch = writeTrap
            tlb.flushWrites()
        }
    }

    @inline(__always)
    mutating func install(_ array: UnsafeMutablePointer<TLBEntry>, _ linear: UInt64,
                                  _ host: UnsafeMutableRawPointer, _ translation: Translation) {
        tlb.refills &+= 1
        if translation.pageShift > tlb.largestPageShift { tlb.largestPageShift = translation.pageShift }
        tlb.install(array, linear: linear, host: host, physicalPage: translation.physical & ~0xfff,
                    global: translation.global)
    }

    /// The host page and physical page for an instruction fetch at `linear`.
    @inline(__always)
    mutating func fetchPage(_ linear: UInt64) throws(Fault) -> (host: UnsafeMutableRawPointer, physical: UInt64)? {
        let entry = tlbExec[SoftTLB.slot(linear)]
        if entry.tag == linear >> 12 { return (entry.host, entry.physicalPage) }
        let translation = try translate(linear, .execute, user: cpl == 3)
        guard let page = physical.hostPage(translation.physical) else { return nil }
        install(tlbExec, linear, page.host, translation)
        return (page.host, translation.physical & ~0xfff)
    }

    // MARK: implicit supervisor accesses (descriptor tables, TSS, IDT; SDM vol. 3, 4.6.1)

    mutating func readSupervisor(_ linear: UInt64, _ size: UInt8) throws(Fault) -> UInt64 {
        try readLinearSlow(linear & linearMask, size, user: false)
    }

    mutating func writeSupervisor(_ linear: UInt64, _ size: UInt8, _ value: UInt64) throws(Fault) {
        try writeLinearSlow(linear & linearMask, size, value, user: false)
    }
}
