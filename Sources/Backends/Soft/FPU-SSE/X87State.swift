import VMMKit

/// The x87 control state an OS saves and restores. Arithmetic x87 instructions are not implemented
/// (they raise #UD and are logged); FNINIT/FNSTSW/FNSTCW/FLDCW/FNCLEX/FWAIT are, and so are EMMS and
/// FILD m32int, which Linux executes before every FXRSTOR/XRSTOR on AMD processors to clear the
/// last-instruction pointers FXSAVE leaks there (X86_BUG_FXSAVE_LEAK).
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
        if i.sub == 8 && cr0 & 4 != 0 { throw Fault.ud } // EMMS with CR0.EM (SDM vol. 2, EMMS)
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
        case 7:
            pushX87(Self.extended(Int32(truncatingIfNeeded: try readMemory(ins, 4))))
        case 8:
            x87.tagWord = 0 // EMMS: every register empty (SDM vol. 2, EMMS)
        default:
            x87.statusWord &= 0x7f00 // FNCLEX: exception flags, ES and B clear
        }
    }

    /// Pushes an 80-bit value (significand, sign and exponent) onto the register stack: TOP moves down
    /// and the new ST0 is tagged valid. Pushing onto a full register is a masked stack overflow when
    /// IM is set, which loads the real indefinite instead (SDM vol. 1, 8.5.1.1).
    mutating func pushX87(_ value: (significand: UInt64, signAndExponent: UInt16)) {
        let top = (x87.statusWord >> 11 &- 1) & 7
        x87.statusWord = (x87.statusWord & ~0x3800) | top << 11
        var loaded = value
        x87.statusWord &= ~0x200 // C1 = 0: no overflow
        if x87.tagWord & (1 << top) != 0 {
            x87.statusWord |= 0x41 | 0x200 // SF, IE, C1 = 1: overflow
            if x87.controlWord & 1 == 0 { x87.statusWord |= 0x8080 } // unmasked: ES and B
            loaded = (0xc000_0000_0000_0000, 0xffff)
        }
        // `x87Registers` holds ST0..ST7 in stack order, as FXSAVE stores them.
        for index in stride(from: 7, to: 0, by: -1) {
            x87Registers[index * 2] = x87Registers[index * 2 - 2]
            x87Registers[index * 2 + 1] = x87Registers[index * 2 - 1]
        }
        x87Registers[0] = loaded.significand
        x87Registers[1] = UInt64(loaded.signAndExponent)
        x87.tagWord |= 1 << top
    }

    /// A 32-bit integer as an 80-bit extended real: exact, normalized with the explicit integer bit.
    static func extended(_ integer: Int32) -> (significand: UInt64, signAndExponent: UInt16) {
        guard integer != 0 else { return (0, 0) }
        let magnitude = UInt64(integer.magnitude)
        let shift = magnitude.leadingZeroBitCount
        let sign: UInt16 = integer < 0 ? 0x8000 : 0
        return (magnitude << UInt64(shift), sign | UInt16(16383 + 63 - shift))
    }
}
