/// ADD/OR/ADC/SBB/AND/SUB/XOR/CMP/TEST, INC/DEC/NOT/NEG (SDM vol. 2): results are computed here, flags
/// recorded lazily (see `FlagState`).
extension CPUCore {
    /// ALU kind `kind` (the opcode's bits 5:3; 8 = TEST) on `size`-byte operands; returns the result.
    @inline(__always)
    mutating func alu(_ kind: UInt8, _ dst: UInt64, _ src: UInt64, _ size: UInt8) -> UInt64 {
        let mask = Self.mask(size)
        let result: UInt64
        switch kind {
        case 0:
            result = (dst &+ src) & mask
            flags.record(.add, size: size, dst: dst, src: src, result: result)
        case 1:
            result = (dst | src) & mask
            flags.record(.logic, size: size, dst: dst, src: src, result: result)
        case 2:
            let carry = flags.cf
            result = (dst &+ src &+ (carry ? 1 : 0)) & mask
            flags.record(.adc, size: size, dst: dst, src: src, result: result, carryIn: carry)
        case 3:
            let carry = flags.cf
            result = (dst &- src &- (carry ? 1 : 0)) & mask
            flags.record(.sbb, size: size, dst: dst, src: src, result: result, carryIn: carry)
        case 4, 8:
            result = dst & src & mask
            flags.record(.logic, size: size, dst: dst, src: src, result: result)
        case 6:
            result = (dst ^ src) & mask
            flags.record(.logic, size: size, dst: dst, src: src, result: result)
        default: // 5 SUB, 7 CMP
            result = (dst &- src) & mask
            flags.record(.sub, size: size, dst: dst, src: src, result: result)
        }
        return result
    }

    @inline(__always)
    mutating func aluRegReg(_ ins: UnsafePointer<DecodedInstruction>) {
        let i = ins.pointee
        let result = alu(i.sub, register(i.rm, i.size), register(i.reg, i.size), i.size)
        if i.sub < 7 { setRegister(i.rm, i.size, result) }
    }

    @inline(__always)
    mutating func aluRegMem(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let source = try readMemory(ins, i.size)
        let result = alu(i.sub, register(i.reg, i.size), source, i.size)
        if i.sub < 7 { setRegister(i.reg, i.size, result) }
    }

    @inline(__always)
    mutating func aluMemReg(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let segment = Int(i.segment), offset = effectiveAddress(ins)
        let destination = try read(segment, offset, i.size)
        let result = alu(i.sub, destination, register(i.reg, i.size), i.size)
        if i.sub < 7 { try write(segment, offset, i.size, result) }
    }

    @inline(__always)
    mutating func aluRegImm(_ ins: UnsafePointer<DecodedInstruction>) {
        let i = ins.pointee
        let result = alu(i.sub, register(i.rm, i.size), i.imm & Self.mask(i.size), i.size)
        if i.sub < 7 { setRegister(i.rm, i.size, result) }
    }

    @inline(__always)
    mutating func aluMemImm(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let segment = Int(i.segment), offset = effectiveAddress(ins)
        let destination = try read(segment, offset, i.size)
        let result = alu(i.sub, destination, i.imm & Self.mask(i.size), i.size)
        if i.sub < 7 { try write(segment, offset, i.size, result) }
    }

    /// INC (0), DEC (1), NOT (2), NEG (3).
    @inline(__always)
    mutating func unary(_ kind: UInt8, _ value: UInt64, _ size: UInt8) -> UInt64 {
        let mask = Self.mask(size)
        switch kind {
        case 0:
            let result = (value &+ 1) & mask
            flags.record(.inc, size: size, dst: value, src: 1, result: result, carryIn: flags.cf)
            return result
        case 1:
            let result = (value &- 1) & mask
            flags.record(.dec, size: size, dst: value, src: 1, result: result, carryIn: flags.cf)
            return result
        case 2:
            return ~value & mask
        default:
            let result = (0 &- value) & mask
            flags.record(.sub, size: size, dst: 0, src: value, result: result)
            return result
        }
    }

    mutating func unaryReg(_ ins: UnsafePointer<DecodedInstruction>) {
        let i = ins.pointee
        setRegister(i.rm, i.size, unary(i.sub, register(i.rm, i.size), i.size))
    }

    mutating func unaryMem(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let segment = Int(i.segment), offset = effectiveAddress(ins)
        let value = try read(segment, offset, i.size)
        try write(segment, offset, i.size, unary(i.sub, value, i.size))
    }
}
