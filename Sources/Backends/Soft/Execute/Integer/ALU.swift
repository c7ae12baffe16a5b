/// ADD/OR/ADC/SBB/AND/SUB/XOR/CMP/TEST, INC/DEC/NOT/NEG (SDM vol. 2): results are computed here, flags
/// recorded lazily (see `FlagState`).
extension CPUCore {
    /// ALU kind `kind` (the opcode's bits 5:3; 8 = TEST) on `size`-byte operands; returns the result.
    @inline(__always)
    mutating func alu(_ kind: UInt8, _ dst: UInt64, _ src: UInt64, _ size: UInt8) -> UInt64 {
        alu(kind, dst, src, mask: Self.mask(size), shift: Self.flagShift(size))
    }

    /// The same with the operand mask and flag shift precomputed at decode time.
    @inline(__always)
    mutating func alu(_ kind: UInt8, _ dst: UInt64, _ src: UInt64, mask: UInt64, shift: UInt8) -> UInt64 {
        let result: UInt64
        switch kind {
        case 0:
            result = (dst &+ src) & mask
            flags.record(.add, shift: shift, dst: dst, src: src, result: result)
        case 1:
            result = (dst | src) & mask
            flags.recordLogic(shift: shift, result: result)
        case 2:
            let carry = carryFlag()
            result = (dst &+ src &+ (carry ? 1 : 0)) & mask
            flags.record(.adc, shift: shift, dst: dst, src: src, result: result, carryIn: carry)
        case 3:
            let carry = carryFlag()
            result = (dst &- src &- (carry ? 1 : 0)) & mask
            flags.record(.sbb, shift: shift, dst: dst, src: src, result: result, carryIn: carry)
        case 4, 8:
            result = dst & src & mask
            flags.recordLogic(shift: shift, result: result)
        case 6:
            result = (dst ^ src) & mask
            flags.recordLogic(shift: shift, result: result)
        default: // 5 SUB, 7 CMP
            result = (dst &- src) & mask
            flags.record(.sub, shift: shift, dst: dst, src: src, result: result)
        }
        return result
    }

    // The handlers take the kind as an argument: the generic forms pass `sub`, the dedicated ones (see
    // `SpecialisedForms.swift`) a constant that folds the kind switch away, with `wide` set when the
    // register operands are known to be 4 or 8 bytes. Transparent because they are also called from
    // the fused forms, where @inline(__always) stops being honoured.

    @_transparent
    mutating func aluRegReg(_ ins: UnsafePointer<DecodedInstruction>, kind: UInt8, wide: Bool = false) {
        let mask = ins.pointee.mask, destination = ins.pointee.rm
        let result = alu(kind, register(destination, mask: mask, wide: wide),
                         register(ins.pointee.reg, mask: mask, wide: wide), mask: mask, shift: ins.pointee.flagShift)
        if kind < ALUKind.cmp { setRegister(destination, mask: mask, wide: wide, result) }
    }

    @_transparent
    mutating func aluRegMem(_ ins: UnsafePointer<DecodedInstruction>, kind: UInt8, wide: Bool = false) throws(Fault) {
        let mask = ins.pointee.mask, destination = ins.pointee.reg
        let source = try readMemory(ins, ins.pointee.size)
        let result = alu(kind, register(destination, mask: mask, wide: wide), source, mask: mask,
                         shift: ins.pointee.flagShift)
        if kind < ALUKind.cmp { setRegister(destination, mask: mask, wide: wide, result) }
    }

    @inline(__always)
    mutating func aluMemReg(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let kind = ins.pointee.sub, size = ins.pointee.size, mask = ins.pointee.mask
        let linear = try memoryLinearAddress(ins, write: kind < ALUKind.cmp)
        let destination = try readLinear(linear, size)
        let result = alu(kind, destination, register(ins.pointee.reg, mask: mask), mask: mask, shift: ins.pointee.flagShift)
        if kind < ALUKind.cmp { try writeLinear(linear, size, result) }
    }

    @_transparent
    mutating func aluRegImm(_ ins: UnsafePointer<DecodedInstruction>, kind: UInt8, wide: Bool = false) {
        let mask = ins.pointee.mask, destination = ins.pointee.rm
        let result = alu(kind, register(destination, mask: mask, wide: wide), ins.pointee.imm & mask, mask: mask,
                         shift: ins.pointee.flagShift)
        if kind < ALUKind.cmp { setRegister(destination, mask: mask, wide: wide, result) }
    }

    @_transparent
    mutating func aluMemImm(_ ins: UnsafePointer<DecodedInstruction>, kind: UInt8) throws(Fault) {
        let size = ins.pointee.size, mask = ins.pointee.mask
        let linear = try memoryLinearAddress(ins, write: kind < ALUKind.cmp)
        let destination = try readLinear(linear, size)
        let result = alu(kind, destination, ins.pointee.imm & mask, mask: mask, shift: ins.pointee.flagShift)
        if kind < ALUKind.cmp { try writeLinear(linear, size, result) }
    }

    /// INC (0), DEC (1), NOT (2), NEG (3).
    @inline(__always)
    mutating func unary(_ kind: UInt8, _ value: UInt64, _ size: UInt8) -> UInt64 {
        let mask = Self.mask(size)
        switch kind {
        case 0:
            let result = (value &+ 1) & mask
            flags.record(.inc, shift: Self.flagShift(size), dst: value, src: 1, result: result, carryIn: carryFlag())
            return result
        case 1:
            let result = (value &- 1) & mask
            flags.record(.dec, shift: Self.flagShift(size), dst: value, src: 1, result: result, carryIn: carryFlag())
            return result
        case 2:
            return ~value & mask
        default:
            let result = (0 &- value) & mask
            flags.record(.sub, shift: Self.flagShift(size), dst: 0, src: value, result: result)
            return result
        }
    }

    @inline(__always)
    mutating func unaryReg(_ ins: UnsafePointer<DecodedInstruction>) {
        let i = ins.pointee
        setRegister(i.rm, i.size, unary(i.sub, register(i.rm, i.size), i.size))
    }

    mutating func unaryMem(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let kind = i.sub, mask = i.mask
        let old = try readModifyWrite(Int(i.segment), effectiveAddress(ins), i.size, locked: i.isLocked) { value in
            switch kind {
            case 0: return (value &+ 1) & mask
            case 1: return (value &- 1) & mask
            case 2: return ~value & mask
            default: return (0 &- value) & mask
            }
        }
        _ = unary(kind, old, i.size) // the flags, from the value actually replaced
    }
}
