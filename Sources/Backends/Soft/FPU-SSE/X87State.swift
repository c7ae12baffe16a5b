import VMMKit

/// The x87 control state an OS saves and restores. Arithmetic x87 instructions are not implemented
/// (they raise #UD and are logged); FNINIT/FNSTSW/FNSTCW/FLDCW/FNCLEX/FWAIT are.
struct X87State {
    /// FNINIT values (SDM vol. 1, 8.1.5 and table 8-1... "FINIT/FNINIT").
    var controlWord: UInt16 = 0x37f
    var statusWord: UInt16 = 0
    /// Abridged tag word as FXSAVE stores it: one bit per register, 1 = valid.
    var tagWord: UInt8 = 0
    var lastOpcode: UInt16 = 0
    var lastInstructionPointer: UInt64 = 0
    var lastDataPointer: UInt64 = 0
}

extension CPUCore {
    /// #NM when CR0.EM or CR0.TS is set (SDM vol. 3, 2.5: EM, TS).
    func checkX87() throws(Fault) {
        if cr0 & 0xc != 0 { throw Fault.nm }
    }

    /// SSE instructions: #UD without CR4.OSFXSR or with CR0.EM, #NM with CR0.TS (SDM vol. 3, 13.1.3).
    @inline(__always)
    func checkSSE() throws(Fault) {
        if cr0 & 4 != 0 || cr4 & ControlBits.cr4OSFXSR == 0 { throw Fault.ud }
        if cr0 & 8 != 0 { throw Fault.nm }
    }

    mutating func x87Control(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        if i.sub == 6 { // FWAIT: #NM only with TS and MP
            if cr0 & 0xa == 0xa { throw Fault.nm }
            return
        }
        try checkX87()
        switch i.sub {
        case 0:
            x87 = X87State()
        case 1:
            setRegister(0, 2, UInt64(x87.statusWord))
        case 2:
            try writeMemory(ins, 2, UInt64(x87.statusWord))
        case 3:
            try writeMemory(ins, 2, UInt64(x87.controlWord))
        case 4:
            x87.controlWord = UInt16(truncatingIfNeeded: try readMemory(ins, 2)) | 0x40
        default:
            x87.statusWord &= 0x7f00 // FNCLEX: exception flags, ES and B clear
        }
    }
}
