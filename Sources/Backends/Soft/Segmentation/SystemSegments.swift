/// LGDT/LIDT/SGDT/SIDT, LLDT/LTR/SLDT/STR, LAR/LSL/VERR/VERW (SDM vol. 2; vol. 3, 3.5 and 7.2.4).
extension CPUCore {
    /// LGDT/LIDT: a 16-bit limit and a 24/32/64-bit base.
    mutating func loadTableRegister(_ ins: UnsafePointer<DecodedInstruction>, interrupt: Bool) throws(Fault) {
        try requireCPL0()
        let i = ins.pointee
        let segment = Int(i.segment), address = effectiveAddress(ins)
        let limit = try read(segment, address, 2)
        var base = try read(segment, (address &+ 2) & Self.mask(i.addressSize), in64BitMode ? 8 : 4)
        if !in64BitMode && i.size == 2 { base &= 0xff_ffff }
        // A 64-bit table base must be canonical (SDM vol. 2, LGDT/LIDT: #GP(0) in 64-bit mode).
        if in64BitMode && !Self.isCanonical(base) { throw Fault.gp() }
        let table = TableRegister(base: base, limit: UInt32(limit))
        if interrupt { idtr = table } else { gdtr = table }
    }

    mutating func storeTableRegister(_ ins: UnsafePointer<DecodedInstruction>, interrupt: Bool) throws(Fault) {
        let i = ins.pointee
        let table = interrupt ? idtr : gdtr
        let segment = Int(i.segment), address = effectiveAddress(ins)
        try write(segment, address, 2, UInt64(table.limit & 0xffff))
        try write(segment, (address &+ 2) & Self.mask(i.addressSize), in64BitMode ? 8 : 4, table.base)
    }

    /// LLDT: an LDT descriptor (type 2) from the GDT; 16 bytes in long mode.
    mutating func lldt(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        guard protectedMode && !v86Mode else { throw Fault.ud }
        try requireCPL0()
        let selector = UInt16(truncatingIfNeeded: try readRM(ins, 2))
        if selector & 0xfffc == 0 {
            segments[Segment.ldtr].selector = selector
            segments[Segment.ldtr].unusable = true
            return
        }
        let cache = try systemDescriptor(selector, allowedTypes: 2, 2)
        segments[Segment.ldtr] = cache
    }

    /// LTR: an available TSS (type 9, or 1 for a 16-bit TSS), marked busy in the GDT.
    mutating func ltr(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        guard protectedMode && !v86Mode else { throw Fault.ud }
        try requireCPL0()
        let selector = UInt16(truncatingIfNeeded: try readRM(ins, 2))
        guard selector & 0xfffc != 0 else { throw Fault.gp() }
        var cache = try systemDescriptor(selector, allowedTypes: 9, longMode ? 9 : 1)
        let address = try descriptorAddress(selector)
        let typeByte = try readSupervisor(address &+ 5, 1)
        try writeSupervisor(address &+ 5, 1, typeByte | 2)
        cache.type |= 2
        segments[Segment.tr] = cache
    }

    /// Reads a GDT system descriptor of one of two types (16 bytes in long mode).
    private mutating func systemDescriptor(_ selector: UInt16, allowedTypes first: UInt8, _ second: UInt8) throws(Fault)
        -> SegmentCache
    {
        let code = UInt32(selector & 0xfffc)
        guard selector & 4 == 0 else { throw Fault.gp(code) }
        let address = try descriptorAddress(selector, extraBytes: longMode ? 8 : 0)
        let descriptor = try readSupervisor(address, 8)
        let upper = longMode ? try readSupervisor(address &+ 8, 8) : 0
        let cache = SegmentCache(selector: selector, descriptor: descriptor, upperBase: upper & 0xffff_ffff)
        guard !cache.codeOrData, cache.type == first || cache.type == second else { throw Fault.gp(code) }
        guard cache.present else { throw Fault.np(code) }
        // The upper half of a 16-byte descriptor has a zero type field, and the base it completes must
        // be canonical (SDM vol. 2, LLDT and LTR: #GP(selector) in 64-bit mode; vol. 3, 8.2.3).
        if longMode && (upper & 0x1f00_0000_0000 != 0 || !Self.isCanonical(cache.base)) { throw Fault.gp(code) }
        return cache
    }

    mutating func storeSystemSelector(_ ins: UnsafePointer<DecodedInstruction>, task: Bool) throws(Fault) {
        guard protectedMode && !v86Mode else { throw Fault.ud }
        let selector = UInt64(segments[task ? Segment.tr : Segment.ldtr].selector)
        let i = ins.pointee
        if i.isMemory { try writeMemory(ins, 2, selector) } else { setRegister(i.rm, i.size, selector) }
    }

    /// LAR/LSL/VERR/VERW: ZF says whether the selector is visible at this privilege and of the right
    /// kind (SDM vol. 2, LAR, LSL, VERR/VERW).
    mutating func inspectSelector(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        guard protectedMode && !v86Mode else { throw Fault.ud }
        let i = ins.pointee
        let selector = UInt16(truncatingIfNeeded: try readRM(ins, 2))
        flags.materialize()
        var descriptor: UInt64 = 0
        var valid = selector & 0xfffc != 0
        if valid {
            do { descriptor = try readDescriptor(selector) } catch { valid = false }
        }
        let cache = SegmentCache(selector: selector, descriptor: descriptor)
        let conformingCode = cache.isCode && cache.type & 4 != 0
        if valid && !conformingCode && cache.dpl < max(cpl, UInt8(selector & 3)) { valid = false }
        switch i.op {
        case .lar:
            if valid && !cache.codeOrData { valid = [1, 2, 3, 4, 5, 9, 0xb, 0xc].contains(cache.type) }
            if valid { setRegister(i.reg, i.size, descriptor >> 32 & 0x00f0_ff00) }
        case .lsl:
            if valid && !cache.codeOrData { valid = [1, 2, 3, 9, 0xb].contains(cache.type) }
            if valid { setRegister(i.reg, i.size, UInt64(cache.limit)) }
        case .verr:
            valid = valid && cache.codeOrData && (!cache.isCode || cache.type & 2 != 0)
        default:
            valid = valid && cache.codeOrData && !cache.isCode && cache.type & 2 != 0
        }
        flags.set(RFlags.zf, valid)
    }
}
