/// The slow path of translated memory accesses (QEMU's softmmu helpers): on a TLB miss the code calls
/// `nativeTLBRefill`, which walks the page tables and fills the entry the code then uses, so a miss
/// costs a walk rather than a trip out to the interpreter and back.
extension CPUCore {
    /// Fills the read (and for a write, the write) TLB entry for `linear` and returns the host page, or
    /// nil when the interpreter must run the instruction: a page fault (raised there), MMIO, an access
    /// crossing into the next page, a write to a page holding code or a cached page table, or a page
    /// a data breakpoint or the debugger watches (the interpreter's slow path sees the access).
    mutating func refillForNative(_ linear: UInt64, size: UInt8, write: Bool) -> UnsafeMutableRawPointer? {
        guard (linear & 0xfff) + UInt64(size) <= 0x1000, !(watchesData && pageIsWatched(linear)),
              let translation = try? translate(linear, write ? .write : .read, user: cpl == 3),
              let page = physical.hostPage(translation.physical) else { return nil }
        if write {
            guard page.writable, !physical.writeTrapped(translation.physical & ~0xfff) else { return nil }
            install(tlbWrite, linear, page.host, translation)
        }
        install(tlbRead, linear, page.host, translation)
        return page.host
    }
}

/// Called by translated code as (core, linear address, size | write << 8) -> host page or null.
let nativeTLBRefill: @convention(c) (UnsafeMutableRawPointer, UInt64, UInt32) -> UnsafeMutableRawPointer? = {
    core, linear, access in
    core.assumingMemoryBound(to: CPUCore.self).pointee.refillForNative(
        linear, size: UInt8(truncatingIfNeeded: access), write: access >> 8 != 0)
}
