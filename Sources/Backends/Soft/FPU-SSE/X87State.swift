import VMMKit

/// The x87 state beyond the registers (SDM vol. 1, 8.1). The data instructions run on the host's x87
/// unit (X87HostExecution.swift); the control instructions whose effect depends only on this state
/// run here, as does EMMS.
struct X87State {
    /// FNINIT values (SDM vol. 1, 8.1.5 and table 8-1... "FINIT/FNINIT").
    var controlWord: UInt16 = 0x37f
    var statusWord: UInt16 = 0
    /// Abridged tag word as FXSAVE stores it: one bit per physical register, 1 = valid.
    var tagWord: UInt8 = 0
    var lastOpcode: UInt16 = 0
    var lastInstructionPointer: UInt64 = 0
    var lastDataPointer: UInt64 = 0
    /// FCS and FDS: the selectors of the last instruction and of its memory operand (SDM vol. 1, 8.1.8).
    var lastCodeSelector: UInt16 = 0
    var lastDataSelector: UInt16 = 0

    /// ES (bit 7) and B (bit 15) follow the exception flags whose masks are clear: loading a
    /// control or status word that leaves one unmasked makes it pending (SDM vol. 1, 8.1.3.1, 8.5).
    mutating func refreshErrorSummary() {
        if statusWord & ~controlWord & 0x3f != 0 {
            statusWord |= 0x8080
        } else {
            statusWord &= ~0x8080
        }
    }
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
        if i.sub == 6 { // FWAIT: #NM only with TS and MP, then any pending exception (SDM vol. 2, WAIT/FWAIT)
            if cr0 & 0xa == 0xa { throw Fault.nm }
            try raisePendingX87Exception()
            return
        }
        if i.sub == 8 && cr0 & 4 != 0 { throw Fault.ud } // EMMS with CR0.EM (SDM vol. 2, EMMS)
        try checkX87()
        switch i.sub {
        case 0:
            initializeX87()
        case 1:
            setRegister(0, 2, UInt64(x87.statusWord))
        case 2:
            try writeMemory(ins, 2, UInt64(x87.statusWord))
        case 3:
            try writeMemory(ins, 2, UInt64(x87.controlWord))
        case 4:
            // FLDCW waits first; bit 6 reads as 1, bits 7 and 13-15 as 0 (SDM vol. 1, figure 8-6).
            try raisePendingX87Exception()
            x87.controlWord = UInt16(truncatingIfNeeded: try readMemory(ins, 2)) & 0x1f3f | 0x40
            x87.refreshErrorSummary()
        case 8:
            x87.tagWord = 0 // EMMS: every register empty (SDM vol. 2, EMMS)
        default:
            x87.statusWord &= 0x7f00 // FNCLEX: exception flags, ES and B clear
        }
    }

    /// FNINIT (and the end of FNSAVE): the FNINIT values, TOP = 0 included. `x87Registers` is in
    /// stack order, so the physical registers keep their contents by moving to their new ST slots.
    mutating func initializeX87() {
        setX87StatusWord(0)
        x87 = X87State()
    }

    /// Replaces the status word; a new TOP renames the registers (SDM vol. 1, 8.1.2): ST(i) after is
    /// physical register (TOP + i), which was ST((new TOP - old TOP + i) mod 8) before.
    mutating func setX87StatusWord(_ status: UInt16) {
        let shift = Int((status >> 11 &- x87.statusWord >> 11) & 7)
        x87.statusWord = status
        guard shift != 0 else { return }
        var before = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                      UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0))
        withUnsafeMutableBytes(of: &before) { $0.copyMemory(from: UnsafeRawBufferPointer(start: x87Registers, count: 128)) }
        withUnsafeBytes(of: &before) { saved in
            let values = saved.bindMemory(to: UInt64.self)
            for index in 0..<8 {
                let source = (index + shift) & 7
                x87Registers[index * 2] = values[source * 2]
                x87Registers[index * 2 + 1] = values[source * 2 + 1]
            }
        }
    }
}
