/// The SSE2 moves, logic, compares and integer arithmetic compilers emit (SDM vol. 2). XMM registers
/// are (low, high) 64-bit pairs; lane arithmetic goes through Swift SIMD types.
extension CPUCore {
    typealias Vector = SIMD2<UInt64>

    @inline(__always)
    func xmmValue(_ index: UInt8) -> Vector {
        Vector(xmm[Int(index & 15) * 2], xmm[Int(index & 15) * 2 + 1])
    }

    @inline(__always)
    func setXMMValue(_ index: UInt8, _ value: Vector) {
        xmm[Int(index & 15) * 2] = value[0]
        xmm[Int(index & 15) * 2 + 1] = value[1]
    }

    /// A 128-bit memory operand; `aligned` forms raise #GP(0) unless 16-byte aligned.
    mutating func read128(_ ins: UnsafePointer<DecodedInstruction>, aligned: Bool) throws(Fault) -> Vector {
        let segment = Int(ins.pointee.segment), offset = effectiveAddress(ins)
        if aligned && offset & 15 != 0 { throw Fault.gp() }
        let low = try read(segment, offset, 8)
        return Vector(low, try read(segment, (offset &+ 8) & Self.mask(ins.pointee.addressSize), 8))
    }

    mutating func write128(_ ins: UnsafePointer<DecodedInstruction>, _ value: Vector, aligned: Bool) throws(Fault) {
        let segment = Int(ins.pointee.segment), offset = effectiveAddress(ins)
        if aligned && offset & 15 != 0 { throw Fault.gp() }
        // Probe the second half first so a fault leaves memory untouched.
        _ = try linearAddress(segment, (offset &+ 8) & Self.mask(ins.pointee.addressSize), 8, write: true)
        try write(segment, offset, 8, value[0])
        try write(segment, (offset &+ 8) & Self.mask(ins.pointee.addressSize), 8, value[1])
    }

    /// The xmm/m128 source operand of a packed instruction (memory operands must be aligned).
    @inline(__always)
    mutating func sseSource(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) -> Vector {
        ins.pointee.isMemory ? try read128(ins, aligned: true) : xmmValue(ins.pointee.rm)
    }

    mutating func sseMove(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        switch i.op {
        case .sseMoveLoad:
            let value = try read128(ins, aligned: i.sub == 1)
            setXMMValue(i.reg, value)
        case .sseMoveStore: try write128(ins, xmmValue(i.reg), aligned: i.sub == 1)
        default: setXMMValue(i.reg, xmmValue(i.rm)) // register form: destination in ModRM.reg
        }
    }

    /// MOVSS/MOVSD: loads from memory zero the rest of the register; register moves merge.
    mutating func sseScalar(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let mask = Self.mask(i.size)
        if i.op == .sseScalarStore {
            try writeMemory(ins, i.size, xmm[Int(i.reg) * 2] & mask)
        } else if i.isMemory {
            let value = try readMemory(ins, i.size)
            setXMMValue(i.reg, Vector(value, 0))
        } else {
            let low = (xmm[Int(i.reg) * 2] & ~mask) | (xmm[Int(i.rm) * 2] & mask)
            xmm[Int(i.reg) * 2] = low
        }
    }

    /// MOVLPS/MOVHPS/MOVLPD/MOVHPD (sub 0-3) and MOVHLPS/MOVLHPS (4, 5).
    mutating func sseMoveLowHigh(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let register = Int(i.reg) * 2
        switch i.sub {
        case 0: xmm[register] = try readMemory(ins, 8)
        case 1: try writeMemory(ins, 8, xmm[register])
        case 2: xmm[register + 1] = try readMemory(ins, 8)
        case 3: try writeMemory(ins, 8, xmm[register + 1])
        case 4: xmm[register] = xmm[Int(i.rm) * 2 + 1]
        default: xmm[register + 1] = xmm[Int(i.rm) * 2]
        }
    }

    /// MOVD/MOVQ xmm, r/m: zero-extends into the register.
    mutating func movdToXMM(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let value = try readRM(ins, i.size)
        setXMMValue(i.reg, Vector(value, 0))
    }

    mutating func movdFromXMM(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        try writeRM(ins, i.size, xmm[Int(i.reg) * 2] & Self.mask(i.size))
    }

    /// MOVQ xmm, xmm/m64 (F3 0F 7E): the upper half becomes zero.
    mutating func movqToXMM(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let value = i.isMemory ? try readMemory(ins, 8) : xmm[Int(i.rm) * 2]
        setXMMValue(i.reg, Vector(value, 0))
    }

    /// MOVQ xmm/m64, xmm (66 0F D6).
    mutating func movqStore(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        if i.isMemory {
            try writeMemory(ins, 8, xmm[Int(i.reg) * 2])
        } else {
            setXMMValue(i.rm, Vector(xmm[Int(i.reg) * 2], 0))
        }
    }

    mutating func pmovmskb(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let bytes = unsafeBitCast(xmmValue(i.rm), to: SIMD16<UInt8>.self)
        var mask: UInt64 = 0
        for lane in 0..<16 where bytes[lane] & 0x80 != 0 { mask |= 1 << UInt64(lane) }
        setRegister(i.reg, 4, mask)
    }
}

extension CPUCore {
    /// PEXTRW r32, xmm, imm8: the selected word, zero-extended.
    mutating func pextrw(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let words = unsafeBitCast(xmmValue(i.rm), to: SIMD8<UInt16>.self)
        setRegister(i.reg, 4, UInt64(words[Int(i.imm & 7)]))
    }

    /// PINSRW xmm, r32/m16, imm8: replaces the selected word.
    mutating func pinsrw(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let value = try readRM(ins, 2)
        var words = unsafeBitCast(xmmValue(i.reg), to: SIMD8<UInt16>.self)
        words[Int(i.imm & 7)] = UInt16(truncatingIfNeeded: value)
        setXMMValue(i.reg, unsafeBitCast(words, to: Vector.self))
    }
}
