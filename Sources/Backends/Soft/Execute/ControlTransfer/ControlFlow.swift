/// Near branches, calls, returns and loops (SDM vol. 2, Jcc, JMP, CALL, RET, LOOP, JCXZ).
extension CPUCore {
    /// A taken branch only moves `nextRip`: the execution loop sees that and leaves the block.
    @inline(__always)
    mutating func jcc(_ ins: UnsafePointer<DecodedInstruction>) {
        if condition(ins.pointee.sub) {
            nextRip = (nextRip &+ ins.pointee.imm) & ins.pointee.mask
        }
    }

    @inline(__always)
    mutating func jmpRel(_ ins: UnsafePointer<DecodedInstruction>) {
        nextRip = (nextRip &+ ins.pointee.imm) & ins.pointee.mask
    }

    @inline(__always)
    mutating func callRel(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let size = ins.pointee.size
        try push(nextRip, size)
        branch(to: nextRip &+ ins.pointee.imm, size)
    }

    mutating func jmpIndirect(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        branch(to: try readRM(ins, i.size), i.size)
    }

    mutating func callIndirect(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let target = try readRM(ins, i.size)
        try push(nextRip, i.size)
        branch(to: target, i.size)
    }

    @inline(__always)
    mutating func ret(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let size = ins.pointee.size, release = ins.pointee.imm
        let target = try pop(size)
        if release != 0 { setStackPointer(gpr[4] &+ release) }
        branch(to: target, size)
    }

    /// LOOPNE (0), LOOPE (1), LOOP (2): the counter is CX, ECX or RCX by address size.
    mutating func loop(_ ins: UnsafePointer<DecodedInstruction>) {
        let i = ins.pointee
        let count = (register(1, i.addressSize) &- 1) & Self.mask(i.addressSize)
        setRegister(1, i.addressSize, count)
        let taken: Bool
        switch i.sub {
        case 0: taken = count != 0 && !flags.zf
        case 1: taken = count != 0 && flags.zf
        default: taken = count != 0
        }
        if taken { branch(to: nextRip &+ i.imm, i.size) }
    }

    mutating func jcxz(_ ins: UnsafePointer<DecodedInstruction>) {
        let i = ins.pointee
        if register(1, i.addressSize) == 0 { branch(to: nextRip &+ i.imm, i.size) }
    }
}
