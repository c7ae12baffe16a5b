import VMMKit

/// SYSCALL/SYSRET, SYSENTER/SYSEXIT and SWAPGS (SDM vol. 2; AMD APM vol. 2, 6.1.1).
extension CPUCore {
    private func flatCode(_ selector: UInt16, dpl: UInt8, long: Bool) -> SegmentCache {
        var cache = SegmentCache()
        cache.selector = selector
        cache.base = 0
        cache.limit = 0xffff_ffff
        cache.type = 0xb
        cache.dpl = dpl
        cache.long = long
        cache.db = !long
        cache.granularity = true
        return cache
    }

    private func flatStack(_ selector: UInt16, dpl: UInt8) -> SegmentCache {
        var cache = flatCode(selector, dpl: dpl, long: false)
        cache.type = 3
        return cache
    }

    mutating func syscall() throws(Fault) {
        guard efer & ControlBits.eferSCE != 0 else { throw Fault.ud }
        let selector = UInt16(truncatingIfNeeded: msrs.star >> 32) & 0xfffc
        flags.materialize()
        if longMode {
            gpr[1] = nextRip
            gpr[11] = flags.stored & ~RFlags.rf
            segments[Segment.cs] = flatCode(selector, dpl: 0, long: true)
            segments[Segment.ss] = flatStack(selector &+ 8, dpl: 0)
            nextRip = in64BitMode ? msrs.lstar : msrs.cstar
            flags.stored = (flags.stored & ~(msrs.fmask | RFlags.rf)) | RFlags.fixed
        } else {
            gpr[1] = nextRip & 0xffff_ffff
            segments[Segment.cs] = flatCode(selector, dpl: 0, long: false)
            segments[Segment.ss] = flatStack(selector &+ 8, dpl: 0)
            nextRip = msrs.star & 0xffff_ffff
            flags.stored &= ~(RFlags.vm | RFlags.if | RFlags.rf)
        }
        modeChanged()
    }

    mutating func sysret(_ size: UInt8) throws(Fault) {
        guard efer & ControlBits.eferSCE != 0 else { throw Fault.ud }
        guard protectedMode, cpl == 0 else { throw Fault.gp() }
        let base = UInt16(truncatingIfNeeded: msrs.star >> 48)
        if longMode {
            if size == 8 {
                let upper = Int64(bitPattern: gpr[1]) >> 47
                guard upper == 0 || upper == -1 else { throw Fault.gp() }
                segments[Segment.cs] = flatCode((base &+ 16) | 3, dpl: 3, long: true)
                nextRip = gpr[1]
            } else {
                segments[Segment.cs] = flatCode(base | 3, dpl: 3, long: false)
                nextRip = gpr[1] & 0xffff_ffff
            }
            setFlags(gpr[11], changeable: RFlags.writable & ~RFlags.vm)
        } else {
            segments[Segment.cs] = flatCode(base | 3, dpl: 3, long: false)
            nextRip = gpr[1] & 0xffff_ffff
            flags.stored |= RFlags.if
            interruptsEnabled()
        }
        // SS gets a flat 32-bit writable DPL 3 descriptor (SDM vol. 2, SYSRET), on every vendor. AMD
        // CPUs change only the selector (APM vol. 3, SYSRET), so after an interrupt from ring 3 left
        // SS null, user code would run on an unusable SS; kernels work around that on AMD (Linux's
        // X86_BUG_SYSRET_SS_ATTRS reloads SS), never rely on it, and on an Intel vendor do nothing:
        // keeping the null SS's cache gave compatibility mode a 16-bit stack.
        segments[Segment.ss] = flatStack((base &+ 8) | 3, dpl: 3)
        singleStepDue = flags.stored & RFlags.tf != 0
        modeChanged()
    }

    mutating func sysenter() throws(Fault) {
        guard protectedMode else { throw Fault.gp() }
        let selector = UInt16(truncatingIfNeeded: msrs.sysenterCS) & 0xfffc
        guard selector != 0 else { throw Fault.gp() }
        flags.materialize()
        flags.stored &= ~(RFlags.vm | RFlags.if | RFlags.rf)
        segments[Segment.cs] = flatCode(selector, dpl: 0, long: longMode)
        segments[Segment.ss] = flatStack(selector &+ 8, dpl: 0)
        nextRip = longMode ? msrs.sysenterEIP : msrs.sysenterEIP & 0xffff_ffff
        gpr[4] = longMode ? msrs.sysenterESP : msrs.sysenterESP & 0xffff_ffff
        modeChanged()
    }

    mutating func sysexit(_ size: UInt8) throws(Fault) {
        let selector = UInt16(truncatingIfNeeded: msrs.sysenterCS) & 0xfffc
        guard protectedMode, cpl == 0, selector != 0 else { throw Fault.gp() }
        if size == 8 {
            segments[Segment.cs] = flatCode((selector &+ 32) | 3, dpl: 3, long: true)
            segments[Segment.ss] = flatStack((selector &+ 40) | 3, dpl: 3)
            nextRip = gpr[2]
            gpr[4] = gpr[1]
        } else {
            segments[Segment.cs] = flatCode((selector &+ 16) | 3, dpl: 3, long: false)
            segments[Segment.ss] = flatStack((selector &+ 24) | 3, dpl: 3)
            nextRip = gpr[2] & 0xffff_ffff
            gpr[4] = gpr[1] & 0xffff_ffff
        }
        modeChanged()
    }

    mutating func swapgs() throws(Fault) {
        try requireCPL0()
        let kernel = msrs.kernelGSBase
        msrs.kernelGSBase = segments[Segment.gs].base
        segments[Segment.gs].base = kernel
        modeChanged()
    }
}
