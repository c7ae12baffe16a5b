/// Reading and checking GDT/LDT descriptors and loading data segment registers
/// (SDM vol. 3, 3.4-3.5 and 5.5-5.8; vol. 2, MOV/POP Sreg).
extension CPUCore {
    /// The linear address of the descriptor `selector` names; #GP(selector) beyond the table limit
    /// (or an unusable LDT).
    func descriptorAddress(_ selector: UInt16, extraBytes: UInt32 = 0) throws(Fault) -> UInt64 {
        let offset = UInt32(selector & 0xfff8)
        if selector & 4 != 0 {
            let ldt = segments[Segment.ldtr]
            guard !ldt.unusable, ldt.present, offset &+ 7 &+ extraBytes <= ldt.limit else {
                throw Fault.gp(UInt32(selector & 0xfffc))
            }
            return ldt.base &+ UInt64(offset)
        }
        guard offset &+ 7 &+ extraBytes <= gdtr.limit else { throw Fault.gp(UInt32(selector & 0xfffc)) }
        return gdtr.base &+ UInt64(offset)
    }

    mutating func readDescriptor(_ selector: UInt16) throws(Fault) -> UInt64 {
        try readSupervisor(try descriptorAddress(selector), 8)
    }

    /// Sets the accessed bit in a code/data descriptor as a segment load does (SDM vol. 3, 3.4.5.1).
    mutating func markAccessed(_ selector: UInt16, _ descriptor: UInt64) throws(Fault) {
        guard descriptor & (1 << 40) == 0 else { return }
        try writeSupervisor(try descriptorAddress(selector) &+ 5, 1, (descriptor >> 40) | 1)
    }

    /// MOV/POP to DS, ES, FS, GS or SS; LDS and friends.
    mutating func loadSegment(_ index: Int, _ selector: UInt16) throws(Fault) {
        if !protectedMode || v86Mode {
            var cache = segments[index]
            cache.selector = selector
            cache.base = UInt64(selector) << 4
            cache.unusable = false
            cache.present = true
            if v86Mode {
                cache.limit = 0xffff
                cache.type = 3
                cache.dpl = 3
                cache.codeOrData = true
            }
            segments[index] = cache
            segmentLoaded(index)
            return
        }
        let rpl = UInt8(selector & 3)
        let code = UInt32(selector & 0xfffc)
        if selector & 0xfffc == 0 {
            // A null selector: fine for data registers; for SS only in 64-bit mode below CPL 3.
            if index == Segment.ss && !(in64BitMode && cpl < 3 && rpl == cpl) { throw Fault.gp() }
            var cache = SegmentCache()
            cache.selector = selector
            cache.unusable = true
            cache.present = false
            cache.dpl = index == Segment.ss ? cpl : 0
            cache.db = index == Segment.ss ? segments[Segment.ss].db : false
            if index >= Segment.fs && longMode { cache.base = 0 }
            segments[index] = cache
            segmentLoaded(index)
            return
        }
        let descriptor = try readDescriptor(selector)
        var cache = SegmentCache(selector: selector, descriptor: descriptor)
        guard cache.codeOrData else { throw Fault.gp(code) }
        if index == Segment.ss {
            guard rpl == cpl, cache.dpl == cpl, !cache.isCode, cache.type & 2 != 0 else { throw Fault.gp(code) }
            guard cache.present else { throw Fault.ss(code) }
        } else {
            if cache.isCode && cache.type & 2 == 0 { throw Fault.gp(code) }
            let conformingCode = cache.isCode && cache.type & 4 != 0
            if !conformingCode && cache.dpl < max(cpl, rpl) { throw Fault.gp(code) }
            guard cache.present else { throw Fault.np(code) }
        }
        try markAccessed(selector, descriptor)
        cache.type |= 1
        segments[index] = cache
        segmentLoaded(index)
    }

    /// After a segment register changes: SS moves CPL and the stack size, FS/GS bases matter in 64-bit mode.
    mutating func segmentLoaded(_ index: Int) {
        modeChanged()
        if index == Segment.ss { (interruptShadow, debugShadow) = (true, true) }
    }

    /// Loads CS from a code-segment descriptor with RPL = `newCPL` and moves to that privilege level.
    mutating func loadCodeSegment(_ selector: UInt16, _ descriptor: UInt64, cpl newCPL: UInt8) throws(Fault) {
        try markAccessed(selector, descriptor)
        var cache = SegmentCache(selector: (selector & 0xfffc) | UInt16(newCPL), descriptor: descriptor)
        cache.type |= 1
        segments[Segment.cs] = cache
        segments[Segment.ss].dpl = newCPL
    }

    /// Checks a far JMP/CALL/RET/IRET target: a present code segment the current privilege may enter
    /// (SDM vol. 3, 5.8.1). Returns the descriptor.
    mutating func checkedCodeDescriptor(_ selector: UInt16, forReturn: Bool = false) throws(Fault) -> UInt64 {
        let code = UInt32(selector & 0xfffc)
        guard selector & 0xfffc != 0 else { throw Fault.gp() }
        let descriptor = try readDescriptor(selector)
        let cache = SegmentCache(selector: selector, descriptor: descriptor)
        guard cache.isCode else { throw Fault.gp(code) }
        let rpl = UInt8(selector & 3)
        let conforming = cache.type & 4 != 0
        if forReturn {
            guard rpl >= cpl, conforming ? cache.dpl <= rpl : cache.dpl == rpl else { throw Fault.gp(code) }
        } else if conforming {
            guard cache.dpl <= cpl else { throw Fault.gp(code) }
        } else {
            guard rpl <= cpl, cache.dpl == cpl else { throw Fault.gp(code) }
        }
        guard cache.present else { throw Fault.np(code) }
        if longMode && cache.long && cache.db { throw Fault.gp(code) }
        return descriptor
    }

    /// On a return to an outer level, data segment registers the new level may not use become null
    /// (SDM vol. 2, RET / IRET: "check segment registers").
    mutating func nullInaccessibleDataSegments() {
        for index in [Segment.es, Segment.ds, Segment.fs, Segment.gs] {
            let cache = segments[index]
            let conformingCode = cache.isCode && cache.type & 4 != 0
            if !cache.unusable && !conformingCode && cache.dpl < cpl {
                segments[index].selector = 0
                segments[index].unusable = true
                segments[index].present = false
            }
        }
    }
}
