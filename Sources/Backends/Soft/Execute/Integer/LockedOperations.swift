import Synchronization

/// Read-modify-write memory operands. With LOCK (or XCHG, which is always locked) on a machine with
/// several vCPUs the update is indivisible for every other vCPU (SDM vol. 3, 9.1.2): a host
/// compare-and-swap on the guest's RAM when the operand lies within one aligned quadword (or is the
/// aligned 16 bytes of CMPXCHG16B), on any RAM page, including pages that trap writes (decoded code,
/// cached page tables), whose write side effects then follow; otherwise (split across quadwords or
/// pages, MMIO, ROM) the read and write run in the exclusive section, the Soft CPU's bus lock
/// (9.1.2.2). The two never meet on the same bytes at once: no other vCPU runs during the section.
/// A single vCPU needs no atomics.
extension CPUCore {
    /// Reads the operand, stores `update(old)` unless it is nil, and returns the old value.
    mutating func readModifyWrite(_ segment: Int, _ offset: UInt64, _ size: UInt8, locked: Bool,
                                  _ update: (UInt64) -> UInt64?) throws(Fault) -> UInt64 {
        let linear = try linearAddress(segment, offset, Int(size), write: true)
        guard locked && machine.vcpuCount > 1 else { return try plainReadModifyWrite(linear, size, update) }
        // The atomic path reaches RAM without the slow path's data-breakpoint check.
        if watchesData { noteDataAccess(linear, Int(size), write: true) }
        guard linear & 7 &+ UInt64(size) <= 8, let operand = try atomicOperand(linear) else {
            beginExclusive()
            defer { endExclusive() }
            return try plainReadModifyWrite(linear, size, update)
        }
        let (old, stored) = Self.compareAndSwapLoop(operand.host, size, update)
        if stored && operand.trapped { writeToTrappedPage(operand.physical, Int(size)) }
        return old
    }

    private mutating func plainReadModifyWrite(_ linear: UInt64, _ size: UInt8,
                                               _ update: (UInt64) -> UInt64?) throws(Fault) -> UInt64 {
        let old = try readLinear(linear, size)
        if let new = update(old) { try writeLinear(linear, size, new) }
        return old
    }

    /// The host and guest-physical address of a writable RAM operand (the write TLB entry, or a walk
    /// for write, which sets the dirty bit), and whether its page traps writes; nil for MMIO and ROM.
    /// The caller has checked that the operand does not leave its page.
    private mutating func atomicOperand(_ linear: UInt64) throws(Fault)
        -> (host: UnsafeMutableRawPointer, physical: UInt64, trapped: Bool)?
    {
        let offset = Int(truncatingIfNeeded: linear & 0xfff)
        let entry = tlbWrite[SoftTLB.slot(linear)]
        // A write TLB entry exists only for pages that do not trap writes.
        if entry.tag == linear >> 12 { return (entry.host + offset, entry.physicalPage | UInt64(offset), false) }
        let translation = try translate(linear, .write, user: cpl == 3)
        guard let page = physical.hostPage(translation.physical), page.writable else { return nil }
        return (page.host + offset, translation.physical, physical.writeTrapped(translation.physical & ~0xfff))
    }

    /// A compare-and-swap loop on the aligned quadword holding the operand, replacing only the
    /// operand's bytes. Returns the old value and whether a new one was stored.
    private static func compareAndSwapLoop(_ pointer: UnsafeMutableRawPointer, _ size: UInt8,
                                           _ update: (UInt64) -> UInt64?) -> (old: UInt64, stored: Bool) {
        let address = UInt(bitPattern: pointer)
        let word = pointer - Int(address & 7)
        let atomic = word.assumingMemoryBound(to: Atomic<UInt64>.self)
        let shift = UInt64(address & 7) &* 8, mask = CPUCore.mask(size)
        var current = atomic.pointee.load(ordering: .sequentiallyConsistent)
        while true {
            let old = UInt64(littleEndian: current) &>> shift & mask
            guard let new = update(old) else { return (old, false) }
            let replaced = (UInt64(littleEndian: current) & ~(mask &<< shift)) | ((new & mask) &<< shift)
            let (exchanged, original) = atomic.pointee.compareExchange(
                expected: current, desired: replaced.littleEndian, ordering: .sequentiallyConsistent)
            if exchanged { return (old, true) }
            current = original
        }
    }

    /// The 16-byte compare-and-exchange of CMPXCHG16B (a host CMPXCHG16B through `Atomic<WordPair>`
    /// when other vCPUs could interfere). Returns the old value as (low, high).
    mutating func compareExchange16(_ segment: Int, _ offset: UInt64, locked: Bool, expected: (UInt64, UInt64),
                                    replacement: (UInt64, UInt64)) throws(Fault) -> (UInt64, UInt64) {
        let linear = try linearAddress(segment, offset, 16, write: true)
        guard locked && machine.vcpuCount > 1 else {
            return try plainCompareExchange16(linear, expected: expected, replacement: replacement)
        }
        if watchesData { noteDataAccess(linear, 16, write: true) }
        guard linear & 15 == 0, let operand = try atomicOperand(linear) else {
            beginExclusive()
            defer { endExclusive() }
            return try plainCompareExchange16(linear, expected: expected, replacement: replacement)
        }
        let atomic = operand.host.assumingMemoryBound(to: Atomic<WordPair>.self)
        let (exchanged, original) = atomic.pointee.compareExchange(
            expected: WordPair(first: UInt(expected.0), second: UInt(expected.1)),
            desired: WordPair(first: UInt(replacement.0), second: UInt(replacement.1)),
            ordering: .sequentiallyConsistent)
        if exchanged && operand.trapped { writeToTrappedPage(operand.physical, 16) }
        return (UInt64(original.first), UInt64(original.second))
    }

    private mutating func plainCompareExchange16(_ linear: UInt64, expected: (UInt64, UInt64),
                                                 replacement: (UInt64, UInt64)) throws(Fault) -> (UInt64, UInt64) {
        let low = try readLinear(linear, 8), high = try readLinear(linear &+ 8, 8)
        if low == expected.0 && high == expected.1 {
            try writeLinear(linear, 8, replacement.0)
            try writeLinear(linear &+ 8, 8, replacement.1)
        } else {
            try writeLinear(linear, 8, low) // the write permission is checked either way
        }
        return (low, high)
    }

    /// A LOCK-prefixed ALU operation on memory (register or immediate source).
    mutating func lockedALU(_ ins: UnsafePointer<DecodedInstruction>, immediate: Bool) throws(Fault) {
        let i = ins.pointee
        let mask = i.mask, kind = i.sub
        let source = immediate ? i.imm & mask : register(i.reg, mask: mask)
        let carry: UInt64 = flags.cf ? 1 : 0
        let old = try readModifyWrite(Int(i.segment), effectiveAddress(ins), i.size, locked: true) { old in
            switch kind {
            case 0: return (old &+ source) & mask
            case 1: return old | source
            case 2: return (old &+ source &+ carry) & mask
            case 3: return (old &- source &- carry) & mask
            case 4: return old & source
            case 5: return (old &- source) & mask
            default: return old ^ source
            }
        }
        _ = alu(kind, old, source, mask: mask, shift: i.flagShift)
    }
}
