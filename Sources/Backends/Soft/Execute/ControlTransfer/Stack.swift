/// PUSH/POP forms, PUSHF/POPF, PUSHA/POPA, ENTER/LEAVE (SDM vol. 2).
extension CPUCore {
    mutating func popMemory(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let savedRSP = gpr[4]
        let value = try pop(i.size)
        do {
            try writeMemory(ins, i.size, value) // the address uses the incremented RSP
        } catch {
            gpr[4] = savedRSP
            throw error
        }
    }

    /// PUSHF: VM and RF are not stored (SDM vol. 2, PUSHF). #GP in virtual-8086 mode below IOPL 3.
    mutating func pushf(_ size: UInt8) throws(Fault) {
        if v86Mode && iopl < 3 { throw Fault.gp() }
        try push(flags.value & ~(RFlags.vm | RFlags.rf), size)
    }

    var iopl: UInt8 { UInt8((flags.stored >> 12) & 3) }

    /// POPF: IOPL only changes at CPL 0 and IF only at CPL <= IOPL; VM, VIF and VIP never change
    /// (SDM vol. 2, POPF, table 4-16).
    mutating func popf(_ size: UInt8) throws(Fault) {
        if v86Mode && iopl < 3 { throw Fault.gp() }
        let value = try pop(size)
        var changeable = RFlags.writable & ~(RFlags.vm | RFlags.vif | RFlags.vip | RFlags.rf)
        if protectedMode && cpl > 0 { changeable &= ~RFlags.iopl }
        if protectedMode && cpl > iopl { changeable &= ~RFlags.if }
        if size == 2 { changeable &= 0xffff }
        setFlags(value, changeable: changeable)
    }

    /// Replaces the bits in `changeable` and notices an IF change.
    mutating func setFlags(_ value: UInt64, changeable: UInt64) {
        flags.materialize()
        let before = flags.stored
        flags.stored = (before & ~changeable) | (value & changeable) | RFlags.fixed
        if flags.stored & RFlags.if != 0 && before & RFlags.if == 0 { interruptsEnabled() }
        if (flags.stored ^ before) & (RFlags.vm | RFlags.ac) != 0 { modeChanged() }
        // TF or RF now set: the execution loop must switch to stepping (`debugStepping`).
        if flags.stored & ~before & (RFlags.tf | RFlags.rf) != 0 { breakBlock = true }
    }

    mutating func pusha(_ size: UInt8) throws(Fault) {
        let original = register(4, size)
        for index: UInt8 in 0..<8 { try push(index == 4 ? original : register(index, size), size) }
    }

    mutating func popa(_ size: UInt8) throws(Fault) {
        for index: UInt8 in (0..<8).reversed() {
            let value = try pop(size)
            if index != 4 { setRegister(index, size, value) }
        }
    }

    /// ENTER size, level (SDM vol. 2, ENTER): nested frames copy `level - 1` frame pointers.
    mutating func enter(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let size = i.size
        let level = UInt64(i.imm2 & 31)
        try push(register(5, size), size)
        let frame = gpr[4] & stackMask
        if level > 0 {
            var framePointer = register(5, size)
            for _ in 1..<level {
                framePointer = (framePointer &- UInt64(size)) & stackMask
                try push(try read(Segment.ss, framePointer, size), size)
            }
            try push(frame, size)
        }
        setRegister(5, size, frame)
        setStackPointer(gpr[4] &- i.imm)
    }

    mutating func leave(_ size: UInt8) throws(Fault) {
        let frame = gpr[5] & stackMask
        let value = try read(Segment.ss, frame, size)
        setStackPointer(frame &+ UInt64(size))
        setRegister(5, size, value)
    }
}
