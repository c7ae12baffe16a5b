extension CPUCore {
    /// The INIT state followed by a start-up IPI: real mode at vector * 4096, everything else as after
    /// INIT (SDM vol. 3, 9.1.1 table 9-1, and 8.4.4.1).
    mutating func resetForStartup(vector: UInt8) {
        for index in 0..<16 { gpr[index] = 0 }
        gpr[2] = 0x600
        flags = FlagState()
        for index in 0..<Segment.count { segments[index] = SegmentCache() }
        segments[Segment.cs] = SegmentCache(realModeSelector: UInt16(vector) << 8, type: 0xb)
        segments[Segment.ldtr].type = 2
        segments[Segment.ldtr].codeOrData = false
        segments[Segment.tr].type = 0xb
        segments[Segment.tr].codeOrData = false
        rip = 0
        gdtr = TableRegister()
        idtr = TableRegister(base: 0, limit: 0x3ff)
        cr0 = 0x6000_0010
        cr2 = 0
        cr4 = 0
        efer = 0
        xcr0 = 1
        x87 = X87State()
        mxcsr = 0x1f80
        halted = false
        interruptShadow = false
        singleStepDue = false
        nmiBlocked = false
        tlb.flushAll()
        writeCR3(0)
        modeChanged()
    }
}
