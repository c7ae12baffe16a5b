/// IRET/IRETD/IRETQ (SDM vol. 2, IRET): real mode, same privilege, outer privilege, and 64-bit mode
/// (which always pops SS:RSP). Task returns (NT=1) and returns to virtual-8086 mode are not implemented.
extension CPUCore {
    mutating func interruptReturn(_ size: UInt8) throws(Fault) {
        flags.materialize()
        nmiBlocked = false
        if !protectedMode {
            let ip = try read(Segment.ss, gpr[4] & stackMask, size)
            let cs = try read(Segment.ss, (gpr[4] &+ UInt64(size)) & stackMask, size)
            let newFlags = try read(Segment.ss, (gpr[4] &+ UInt64(size) * 2) & stackMask, size)
            setStackPointer(gpr[4] &+ UInt64(size) * 3)
            let selector = UInt16(truncatingIfNeeded: cs)
            segments[Segment.cs].selector = selector
            segments[Segment.cs].base = UInt64(selector) << 4
            nextRip = ip
            setFlags(newFlags, changeable: RFlags.writable & ~(RFlags.vm | RFlags.vif | RFlags.vip) & Self.mask(size))
            modeChanged()
            return
        }
        if v86Mode || flags.stored & RFlags.nt != 0 { throw Fault.gp() }
        let stack = gpr[4]
        let mask = in64BitMode ? UInt64.max : stackMask
        let newRip = try read(Segment.ss, stack & mask, size)
        let selector = UInt16(truncatingIfNeeded: try read(Segment.ss, (stack &+ UInt64(size)) & mask, size))
        let newFlags = try read(Segment.ss, (stack &+ UInt64(size) * 2) & mask, size)
        if newFlags & RFlags.vm != 0 && cpl == 0 && !longMode { throw Fault.gp() }
        let descriptor = try checkedCodeDescriptor(selector, forReturn: true)
        let rpl = UInt8(selector & 3)
        let oldCPL = cpl
        let popStack = rpl > cpl || in64BitMode
        var newSP: UInt64 = 0, newSS: UInt16 = 0
        if popStack {
            newSP = try read(Segment.ss, (stack &+ UInt64(size) * 3) & mask, size)
            newSS = UInt16(truncatingIfNeeded: try read(Segment.ss, (stack &+ UInt64(size) * 4) & mask, size))
        }
        // Flags first, with the privilege rules of the level we are returning from.
        var changeable = RFlags.writable & ~(RFlags.vm | RFlags.vif | RFlags.vip)
        if oldCPL > 0 { changeable &= ~RFlags.iopl }
        if oldCPL > iopl { changeable &= ~RFlags.if }
        if size == 2 { changeable &= 0xffff }
        if size == 8 || oldCPL == 0 { changeable |= RFlags.vif | RFlags.vip }
        try loadCodeSegment(selector, descriptor, cpl: rpl)
        modeChanged()
        if popStack {
            if newSS & 0xfffc == 0 && longMode && segments[Segment.cs].long && rpl < 3 {
                var ss = SegmentCache()
                ss.selector = newSS
                ss.unusable = true
                ss.dpl = rpl
                segments[Segment.ss] = ss
                modeChanged()
            } else {
                try loadSegment(Segment.ss, newSS)
            }
            gpr[4] = size == 8 ? newSP : (gpr[4] & ~stackMask) | (newSP & stackMask)
            interruptShadow = false
        } else {
            gpr[4] = (stack & ~stackMask) | ((stack &+ UInt64(size) * 3) & stackMask)
        }
        let codeLong = longMode && segments[Segment.cs].long
        nextRip = codeLong ? newRip : newRip & Self.mask(size)
        setFlags(newFlags, changeable: changeable)
        if rpl > oldCPL { nullInaccessibleDataSegments() }
        modeChanged()
        interruptsEnabled()
    }
}
