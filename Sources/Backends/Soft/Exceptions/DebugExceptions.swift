/// Single-step traps, instruction breakpoints and general detect (SDM vol. 3, 18.2-18.3). While TF,
/// RF or a DR7 enable is set the execution loop runs one interpreted instruction per step and asks
/// here, before and after it, which #DB to raise; otherwise none of this runs.
extension CPUCore {
    /// DR6 status bits (SDM vol. 3, 18.2.3): B0-B3, BD (general detect), BS (single step).
    static let dr6Breakpoints: UInt64 = 0xf, dr6GeneralDetect: UInt64 = 1 << 13, dr6SingleStep: UInt64 = 1 << 14
    /// DR7 bits: L0/G0..L3/G3 enables, GD (SDM vol. 3, 18.2.4).
    static let dr7Enables: UInt64 = 0xff, dr7GeneralDetect: UInt64 = 1 << 13

    /// Whether the loop must step one instruction at a time: a single step is pending, RF must be
    /// cleared after the next instruction, or breakpoints are armed. Read once per chain of blocks;
    /// anything that sets these bits ends the running block (`setFlags`, MOV DR7).
    var debugStepping: Bool { flags.stored & (RFlags.tf | RFlags.rf) != 0 || debug.dr7 & Self.dr7Enables != 0 }

    /// An instruction breakpoint on the instruction at CS:RIP: a fault, before it runs, unless RF
    /// says it was already reported (SDM vol. 3, 18.3.1.1; DR7 R/W = 00 is an execution breakpoint).
    mutating func instructionBreakpoint() -> Fault? {
        guard flags.stored & RFlags.rf == 0, debug.dr7 & Self.dr7Enables != 0 else { return nil }
        let linear = (segmentBase[Segment.cs] &+ rip) & linearMask
        let addresses = (debug.dr0, debug.dr1, debug.dr2, debug.dr3)
        var hits: UInt64 = 0
        for index in 0..<4 {
            let enabled = debug.dr7 >> (2 * UInt64(index)) & 3 != 0
            let execute = debug.dr7 >> (16 + 4 * UInt64(index)) & 3 == 0
            let address: UInt64
            switch index {
            case 0: address = addresses.0
            case 1: address = addresses.1
            case 2: address = addresses.2
            default: address = addresses.3
            }
            if enabled && execute && address == linear { hits |= 1 << UInt64(index) }
        }
        guard hits != 0 else { return nil }
        debug.dr6 = (debug.dr6 & ~Self.dr6Breakpoints) | hits
        return Fault(Fault.debug)
    }

    /// After one stepped instruction completed: RF clears (unless IRET just loaded it), and a
    /// single-step trap follows if TF was set when the instruction began (SDM vol. 3, 18.3.1.4).
    /// SYSCALL and INT n are judged by TF after them, as they mask it on the way in (QEMU does the
    /// same for SYSCALL; FMASK with TF keeps a #DB out of the kernel entry). After MOV SS/POP SS the
    /// trap waits for the next instruction's boundary (SDM vol. 3, 6.8.3). HLT halts without a trap,
    /// as under QEMU TCG; the event that wakes the vCPU is delivered instead.
    mutating func trapAfterStep(_ executed: Op, trapFlagAtStart: Bool, afterStackLoad: Bool) -> Fault? {
        if executed != .iret { flags.stored &= ~RFlags.rf }
        guard !afterStackLoad, !halted else { return nil }
        let judgedByNewFlag = executed == .syscall || executed == .int
        let singleStep = judgedByNewFlag ? flags.stored & RFlags.tf != 0 : trapFlagAtStart
        guard singleStep else { return nil }
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
