/// SSE/SSE2 floating-point arithmetic, ordered compares and scalar conversions (SDM vol. 2): the
/// instructions compiled C uses for float and double. Results use the host's IEEE arithmetic with
/// round-to-nearest; MXCSR.RC applies to CVTSx2SI; exception flags and FTZ/DAZ are not modelled.
extension CPUCore {
    enum Format { static let ps: UInt16 = 0, pd: UInt16 = 1, ss: UInt16 = 2, sd: UInt16 = 3 }

    /// The source operand: a register, or 4/8 bytes (scalar) or an aligned 16 (packed) from memory.
    mutating func floatSource(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) -> Vector {
        let i = ins.pointee
        guard i.isMemory else { return xmmValue(i.rm) }
        switch i.imm2 {
        case Format.ss: return Vector(try readMemory(ins, 4), 0)
        case Format.sd: return Vector(try readMemory(ins, 8), 0)
        default: return try read128(ins, aligned: true)
        }
    }

    /// SQRT (0), ADD (1), MUL (2), SUB (3), MIN (4), DIV (5), MAX (6). MIN/MAX return the second
    /// operand when either is NaN or both are zero, as the instructions define.
    private static func apply<T: BinaryFloatingPoint>(_ operation: UInt8, _ a: T, _ b: T) -> T {
        switch operation {
        case 0: return b.squareRoot()
        case 1: return a + b
        case 2: return a * b
        case 3: return a - b
        case 4: return a < b ? a : b
        case 5: return a / b
        default: return a > b ? a : b
        }
    }

    mutating func sseFloat(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let a = xmmValue(i.reg), b = try floatSource(ins)
        var result = a
        switch i.imm2 {
        case Format.sd:
            result[0] = Self.apply(i.sub, Double(bitPattern: a[0]), Double(bitPattern: b[0])).bitPattern
        case Format.pd:
            for lane in 0..<2 {
                result[lane] = Self.apply(i.sub, Double(bitPattern: a[lane]), Double(bitPattern: b[lane])).bitPattern
            }
        default:
            var x = unsafeBitCast(a, to: SIMD4<UInt32>.self)
            let y = unsafeBitCast(b, to: SIMD4<UInt32>.self)
            for lane in 0..<(i.imm2 == Format.ss ? 1 : 4) {
                x[lane] = Self.apply(i.sub, Float(bitPattern: x[lane]), Float(bitPattern: y[lane])).bitPattern
            }
            result = unsafeBitCast(x, to: Vector.self)
        }
        setXMMValue(i.reg, result)
    }

    /// UCOMISS/UCOMISD/COMISS/COMISD: ZF, PF, CF = unordered 111, less 001, equal 100, greater 000;
    /// OF, SF, AF cleared.
    mutating func sseCompareOrdered(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let a = xmmValue(i.reg)[0], b = try floatSource(ins)[0]
        let less: Bool, equal: Bool, unordered: Bool
        if i.imm2 == Format.sd {
            let x = Double(bitPattern: a), y = Double(bitPattern: b)
            (less, equal, unordered) = (x < y, x == y, x.isNaN || y.isNaN)
        } else {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: a)), y = Float(bitPattern: UInt32(truncatingIfNeeded: b))
            (less, equal, unordered) = (x < y, x == y, x.isNaN || y.isNaN)
        }
        var bits: UInt64 = 0
        if unordered { bits = RFlags.zf | RFlags.pf | RFlags.cf }
        if less { bits |= RFlags.cf }
        if equal { bits |= RFlags.zf }
        flags.setArithmetic(bits)
    }

    /// CVTSI2SS/SD (0), CVTTSS/SD2SI (1), CVTSS/SD2SI (2), CVTSS2SD (3), CVTSD2SS (4).
    mutating func sseConvert(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let double = i.imm2 == Format.sd
        switch i.sub {
        case 0:
            let integer = Int64(bitPattern: Self.signExtend(try readRM(ins, i.size), i.size))
            var value = xmmValue(i.reg)
            value[0] = double ? Double(integer).bitPattern
                : (value[0] & ~0xffff_ffff) | UInt64(Float(integer).bitPattern)
            setXMMValue(i.reg, value)
        case 1, 2:
            let source = try floatSource(ins)[0]
            let value = double ? Double(bitPattern: source) : Double(Float(bitPattern: UInt32(truncatingIfNeeded: source)))
            let rounded = i.sub == 1 ? value.rounded(.towardZero) : value.rounded(roundingRule)
            setRegister(i.reg, i.size, Self.integerOrIndefinite(rounded, i.size))
        case 3:
            let source = Float(bitPattern: UInt32(truncatingIfNeeded: try floatSource(ins)[0]))
            var value = xmmValue(i.reg)
            value[0] = Double(source).bitPattern
            setXMMValue(i.reg, value)
        default:
            let source = Double(bitPattern: try floatSource(ins)[0])
            var value = xmmValue(i.reg)
            value[0] = (value[0] & ~0xffff_ffff) | UInt64(Float(source).bitPattern)
            setXMMValue(i.reg, value)
        }
    }

    /// MXCSR.RC (SDM vol. 1, 10.2.3.3).
    var roundingRule: FloatingPointRoundingRule {
        switch (mxcsr >> 13) & 3 {
        case 0: return .toNearestOrEven
        case 1: return .down
        case 2: return .up
        default: return .towardZero
        }
    }

    /// The integer, or the "integer indefinite" value (only the sign bit set) for NaN and out-of-range
    /// inputs (SDM vol. 2, CVTTSD2SI).
    private static func integerOrIndefinite(_ value: Double, _ size: UInt8) -> UInt64 {
        let limit = size == 8 ? 9_223_372_036_854_775_808.0 : 2_147_483_648.0
        guard !value.isNaN, value >= -limit, value < limit else { return signBit(size) }
        return UInt64(bitPattern: Int64(value)) & mask(size)
    }
}
