/// JMP/CALL/RET far and the far-pointer loads (SDM vol. 2, JMP, CALL, RET, LDS/LES/LFS/LGS/LSS).
/// Call gates and task switches are not implemented: they raise #GP(selector).
extension CPUCore {
    mutating func farJump(_ selector: UInt16, _ offset: UInt64, _ size: UInt8) throws(Fault) {
        try enterCodeSegment(selector, offset, size)
    }

    mutating func farCall(_ selector: UInt16, _ offset: UInt64, _ size: UInt8) throws(Fault) {
        let oldCS = UInt64(segments[Segment.cs].selector), returnIP = nextRip
        let savedRSP = gpr[4]
        do {
            try push(oldCS, size)
            try push(returnIP, size)
            try enterCodeSegment(selector, offset, size)
        } catch {
            gpr[4] = savedRSP
            throw error
        }
    }

    private mutating func enterCodeSegment(_ selector: UInt16, _ offset: UInt64, _ size: UInt8) throws(Fault) {
        if !protectedMode || v86Mode {
            var cs = segments[Segment.cs]
            cs.selector = selector
            cs.base = UInt64(selector) << 4
            segments[Segment.cs] = cs
            nextRip = offset & Self.mask(size)
            modeChanged()
            return
        }
        let descriptor = try checkedCodeDescriptor(selector)
        let cache = SegmentCache(selector: selector, descriptor: descriptor)
        let target = cache.long && longMode ? offset : offset & Self.mask(size)
        if !(cache.long && longMode) && target > UInt64(cache.limit) { throw Fault.gp() }
        try loadCodeSegment(selector, descriptor, cpl: cpl)
        nextRip = target
        modeChanged()
    }

    /// JMP/CALL m16:16/32/64: the offset comes first, the selector after it.
    mutating func farIndirect(_ ins: UnsafePointer<DecodedInstruction>, call: Bool) throws(Fault) {
        let i = ins.pointee
        let segment = Int(i.segment), address = effectiveAddress(ins)
        let offset = try read(segment, address, i.size)
        let selector = UInt16(truncatingIfNeeded: try read(segment, (address &+ UInt64(i.size)) & Self.mask(i.addressSize), 2))
        if call {
            try farCall(selector, offset, i.size)
        } else {
            try farJump(selector, offset, i.size)
        }
    }

    /// RETF [imm16]: to the same level, or to an outer level popping SS:rSP as well.
    mutating func farReturn(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let size = i.size
        let stack = gpr[4]
        let offset = try read(Segment.ss, stack & stackMask, size)
        let selector = UInt16(truncatingIfNeeded: try read(Segment.ss, (stack &+ UInt64(size)) & stackMask, size))
        if !protectedMode || v86Mode {
            gpr[4] = (stack & ~stackMask) | ((stack &+ UInt64(size) * 2 &+ i.imm) & stackMask)
            try farJump(selector, offset, size)
            return
        }
        let descriptor = try checkedCodeDescriptor(selector, forReturn: true)
        let rpl = UInt8(selector & 3)
        if rpl > cpl {
            let base = (stack &+ UInt64(size) * 2 &+ i.imm) & stackMask
            let newSP = try read(Segment.ss, base, size)
            let newSS = UInt16(truncatingIfNeeded: try read(Segment.ss, (base &+ UInt64(size)) & stackMask, size))
            try loadCodeSegment(selector, descriptor, cpl: rpl)
            modeChanged()
            try loadSegment(Segment.ss, newSS)
            gpr[4] = (newSP &+ i.imm) & (size == 8 ? UInt64.max : Self.mask(size))
            nullInaccessibleDataSegments()
        } else {
            try loadCodeSegment(selector, descriptor, cpl: cpl)
            gpr[4] = (stack & ~stackMask) | ((stack &+ UInt64(size) * 2 &+ i.imm) & stackMask)
        }
        nextRip = offset & (longMode && segments[Segment.cs].long ? UInt64.max : Self.mask(size))
        modeChanged()
    }

    /// LDS/LES/LFS/LGS/LSS r, m16:16/32/64.
    mutating func loadFarPointer(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let segment = Int(i.segment), address = effectiveAddress(ins)
        let offset = try read(segment, address, i.size)
        let selector = UInt16(truncatingIfNeeded: try read(segment, (address &+ UInt64(i.size)) & Self.mask(i.addressSize), 2))
        try loadSegment(Int(i.sub), selector)
        setRegister(i.reg, i.size, offset)
    }
}
