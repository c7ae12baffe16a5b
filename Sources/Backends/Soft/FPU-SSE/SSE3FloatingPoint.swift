/// SSE3's packed floating-point additions and duplicating moves (SDM vol. 2: ADDSUBPS/PD,
/// HADDPS/PD, HSUBPS/PD, MOVSLDUP, MOVSHDUP, MOVDDUP). Arithmetic is the host's IEEE arithmetic,
/// as for the other SSE floating-point instructions (see SSEFloatingPoint.swift).
extension CPUCore {
    /// ADDSUB (sub 0): odd elements add, even subtract; HADD (1) / HSUB (2): adjacent pairs of the
    /// destination, then of the source. imm2 = 0 packed single, 1 packed double.
    mutating func sseHorizontalFloat(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let a = xmmValue(i.reg), b = try sseSource(ins)
        if i.imm2 == 1 {
            let x = SIMD2<Double>(Double(bitPattern: a[0]), Double(bitPattern: a[1]))
            let y = SIMD2<Double>(Double(bitPattern: b[0]), Double(bitPattern: b[1]))
            let result = Self.horizontal(i.sub, x, y)
            setXMMValue(i.reg, Vector(result[0].bitPattern, result[1].bitPattern))
        } else {
            let x = unsafeBitCast(Self.dwords(a), to: SIMD4<Float>.self), y = unsafeBitCast(Self.dwords(b), to: SIMD4<Float>.self)
            setXMMValue(i.reg, Self.vector(unsafeBitCast(Self.horizontal(i.sub, x, y), to: SIMD4<UInt32>.self)))
        }
    }

    private static func horizontal<T: SIMD>(_ operation: UInt8, _ x: T, _ y: T) -> T where T.Scalar: BinaryFloatingPoint {
        var result = x
        let half = x.scalarCount / 2
        for lane in 0..<x.scalarCount {
            switch operation {
            case 0:
                result[lane] = lane & 1 == 0 ? x[lane] - y[lane] : x[lane] + y[lane]
            default:
                let source = lane < half ? x : y, first = source[(lane % half) * 2], second = source[(lane % half) * 2 + 1]
                result[lane] = operation == 1 ? first + second : first - second
            }
        }
        return result
    }

    /// MOVSLDUP (sub 0): even dwords duplicated; MOVSHDUP (1): odd dwords; MOVDDUP (2): the low qword
    /// (from an m64 that needs no alignment).
    mutating func sseDuplicate(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        if i.sub == 2 {
            let low = i.isMemory ? try readMemory(ins, 8) : xmm[Int(i.rm & 15) * 2]
            setXMMValue(i.reg, Vector(low, low))
            return
        }
        let d = Self.dwords(try sseSource(ins)), odd = Int(i.sub)
        setXMMValue(i.reg, Self.vector(SIMD4<UInt32>(d[odd], d[odd], d[2 + odd], d[2 + odd])))
    }
}
