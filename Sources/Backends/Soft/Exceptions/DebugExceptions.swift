/// Single-step traps, instruction, data and I/O breakpoints and general detect (SDM vol. 3, 18.2-18.3).
/// While TF, RF or a DR7 enable is set the execution loop runs one interpreted instruction per step
/// and asks here, before and after it, which #DB to raise; otherwise none of this runs. Data
/// breakpoints need the interpreter's memory accesses to be seen: while one is armed, pages holding
/// a watched address get no software-TLB entries, so every access to them takes the slow path,
/// which records the hits (`noteDataAccess`); translated code does not run while stepping.
extension CPUCore {
    /// DR6 status bits (SDM vol. 3, 18.2.3): B0-B3, BD (general detect), BS (single step).
    static let dr6Breakpoints: UInt64 = 0xf, dr6GeneralDetect: UInt64 = 1 << 13, dr6SingleStep: UInt64 = 1 << 14
    /// DR7 bits: L0/G0..L3/G3 enables, GD (SDM vol. 3, 18.2.4).
    static let dr7Enables: UInt64 = 0xff, dr7GeneralDetect: UInt64 = 1 << 13
    /// CR4.DE: DR4/DR5 #UD, and DR7 R/W = 10 means I/O (SDM vol. 3, 2.5 and 18.2.4).
    static let cr4DebugExtensions: UInt64 = 1 << 3

    /// Whether the loop must step one instruction at a time: a single step is pending, RF must be
    /// cleared after the next instruction, or breakpoints are armed. Read once per chain of blocks;
    /// anything that sets these bits ends the running block (`setFlags`, MOV DR7).
    var debugStepping: Bool { flags.stored & (RFlags.tf | RFlags.rf) != 0 || debug.dr7 & Self.dr7Enables != 0 }

    /// Whether an enabled breakpoint is a data breakpoint: R/W = 01 (writes) or 11 (reads and
    /// writes) (SDM vol. 3, 18.2.4).
    var watchesData: Bool {
        guard debug.dr7 & Self.dr7Enables != 0 else { return false }
        for index in 0..<4 where dataBreakpoint(index) != nil { return true }
        return false
    }

    /// Breakpoint `index`'s watched bytes and whether reads hit it too, if it is an enabled data
    /// breakpoint. LEN = 00, 01, 11, 10 watch 1, 2, 4, 8 bytes, on an address aligned to that size
    /// (the low address bits are ignored, SDM vol. 3, 18.2.5).
    func dataBreakpoint(_ index: Int) -> (start: UInt64, length: UInt64, reads: Bool)? {
        let shift = UInt64(index)
        guard debug.dr7 >> (2 * shift) & 3 != 0 else { return nil }
        let kind = debug.dr7 >> (16 + 4 * shift) & 3
        guard kind & 1 != 0 else { return nil }
        let length = Self.breakpointLength(debug.dr7 >> (18 + 4 * shift) & 3)
        return (breakpointAddress(index) & ~(length - 1) & linearMask, length, kind == 3)
    }

    /// DR0-DR3 by number.
    func breakpointAddress(_ index: Int) -> UInt64 {
        switch index {
        case 0: return debug.dr0
        case 1: return debug.dr1
        case 2: return debug.dr2
        default: return debug.dr3
        }
    }

    /// Records the data breakpoints an access of `size` bytes at `linear` hits, for the trap after
    /// the instruction (`trapAfterStep`).
    mutating func noteDataAccess(_ linear: UInt64, _ size: Int, write: Bool) {
        for index in 0..<4 {
            guard let watched = dataBreakpoint(index), write || watched.reads else { continue }
            if linear < watched.start &+ watched.length && watched.start < linear &+ UInt64(size) {
                dataBreakpointHits |= 1 << UInt64(index)
            }
        }
    }

    /// Records the I/O breakpoints an access of `size` bytes at `port` hits, for the trap after the
    /// instruction (or after the iteration of INS/OUTS that hit). DR7 R/W = 10 breaks on I/O only
    /// with CR4.DE: without it the encoding is the 386/486 one, where 10 is undefined (SDM vol. 3,
    /// 18.2.4), and such a breakpoint stays inert, as in Bochs; MOV to DR7 accepts it either way.
    /// DRn holds the port, aligned down to LEN like a data breakpoint's address (18.2.5).
    mutating func noteIOAccess(_ port: UInt16, _ size: UInt8) {
        guard cr4 & Self.cr4DebugExtensions != 0 else { return }
        for index in 0..<4 {
            let shift = UInt64(index)
            guard debug.dr7 >> (2 * shift) & 3 != 0, debug.dr7 >> (16 + 4 * shift) & 3 == 2 else { continue }
            let length = Self.breakpointLength(debug.dr7 >> (18 + 4 * shift) & 3)
            let start = breakpointAddress(index) & ~(length - 1)
            if UInt64(port) < start &+ length && start < UInt64(port) &+ UInt64(size) {
                dataBreakpointHits |= 1 << shift
            }
        }
    }

    /// The bytes LEN = 00, 01, 11, 10 cover: 1, 2, 4, 8 (SDM vol. 3, 18.2.4).
    static func breakpointLength(_ field: UInt64) -> UInt64 {
        switch field {
        case 0: return 1
        case 1: return 2
        case 2: return 8
        default: return 4
        }
    }

    /// Whether the 4 KiB page of `linear` holds bytes a data breakpoint watches: it must then stay
    /// out of the software TLB.
    func pageIsWatched(_ linear: UInt64) -> Bool {
        for index in 0..<4 {
            guard let watched = dataBreakpoint(index) else { continue }
            if watched.start >> 12 == linear >> 12 || (watched.start &+ watched.length &- 1) >> 12 == linear >> 12 { return true }
        }
        return false
    }

    /// DR0-DR3 or DR7 changed: pages that are now watched must lose their TLB entries.
    mutating func debugRegistersChanged() {
        if watchesData { tlb.flushAll() }
        breakBlock = true
    }

    /// An instruction breakpoint on the instruction at CS:RIP: a fault, before it runs, unless RF
    /// says it was already reported (SDM vol. 3, 18.3.1.1; DR7 R/W = 00 is an execution breakpoint).
    mutating func instructionBreakpoint() -> Fault? {
        guard flags.stored & RFlags.rf == 0, debug.dr7 & Self.dr7Enables != 0 else { return nil }
        let linear = (segmentBase[Segment.cs] &+ rip) & linearMask
        var hits: UInt64 = 0
        for index in 0..<4 {
            let enabled = debug.dr7 >> (2 * UInt64(index)) & 3 != 0
            let execute = debug.dr7 >> (16 + 4 * UInt64(index)) & 3 == 0
            if enabled && execute && breakpointAddress(index) == linear { hits |= 1 << UInt64(index) }
        }
        guard hits != 0 else { return nil }
        debug.dr6 = (debug.dr6 & ~Self.dr6Breakpoints) | hits
        return Fault(Fault.debug)
    }

    /// After one stepped instruction completed: RF clears (unless IRET just loaded it), and a
    /// single-step trap follows if TF was set when the instruction began (SDM vol. 3, 18.3.1.4), a
    /// data-breakpoint trap if the instruction's accesses hit one (18.3.1.2), with DR6.Bn for each
    /// hit and the other B bits clear; one #DB reports both.
    /// SYSCALL, SYSRET and INT n are judged by TF after them, as SYSCALL and INT n mask it on the way
    /// in and SYSRET loads it from R11 (FMASK with TF keeps a #DB out of the kernel entry; a SYSRET
    /// that sets TF traps at the user's first instruction, as on hardware, KVM and QEMU, and as
    /// kvm-unit-tests' syscall test expects; `singleStepDue` carries that trap when the loop was not
    /// stepping as SYSRET began). After MOV SS/POP SS the
    /// trap waits for the next instruction's boundary (SDM vol. 3, 6.8.3). HLT halts without a trap,
    /// as under QEMU TCG; the event that wakes the vCPU is delivered instead.
    mutating func trapAfterStep(_ executed: Op, trapFlagAtStart: Bool, afterStackLoad: Bool) -> Fault? {
        if executed != .iret { flags.stored &= ~RFlags.rf }
        guard !afterStackLoad, !halted else { return nil }
        let judgedByNewFlag = executed == .syscall || executed == .sysret || executed == .int
        let singleStep = judgedByNewFlag ? flags.stored & RFlags.tf != 0 : trapFlagAtStart
        singleStepDue = false
        let hits = dataBreakpointHits
        dataBreakpointHits = 0
        guard singleStep || hits != 0 else { return nil }
        if singleStep { debug.dr6 |= Self.dr6SingleStep }
        if hits != 0 { debug.dr6 = (debug.dr6 & ~Self.dr6Breakpoints) | hits }
        return Fault(Fault.debug)
    }

    /// The single-step trap of a SYSRET that ran unstepped and set TF (`singleStepDue`), due
    /// before anything of the next instruction (its breakpoint included) and before interrupts.
    mutating func dueSingleStep() -> Fault? {
        guard singleStepDue else { return nil }
        singleStepDue = false
        debug.dr6 |= Self.dr6SingleStep
        return Fault(Fault.debug)
    }

    /// MOV to or from a debug register with DR7.GD set: a #DB fault with DR6.BD, and GD clears so
    /// the handler can use the registers (SDM vol. 3, 18.2.4).
    mutating func checkGeneralDetect() throws(Fault) {
        guard debug.dr7 & Self.dr7GeneralDetect != 0 else { return }
        debug.dr7 &= ~Self.dr7GeneralDetect
        debug.dr6 |= Self.dr6GeneralDetect
        throw Fault(Fault.debug)
    }
}
