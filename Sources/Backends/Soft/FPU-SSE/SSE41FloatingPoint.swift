/// SSE4.1's floating-point instructions (SDM vol. 2): ROUNDPS/PD/SS/SD and DPPS/DPPD.
extension CPUCore {
    /// ROUND*: to an integral value with imm8[1:0] (nearest, down, up, toward zero), or MXCSR.RC
    /// when imm8 bit 2 is set. A signalling NaN comes back quiet, as from any SSE arithmetic. The
    /// scalar forms keep the rest of the destination.
    mutating func sseRound(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let rule: FloatingPointRoundingRule
        switch i.imm & 7 {
        case 0: rule = .toNearestOrEven
        case 1: rule = .down
        case 2: rule = .up
        case 3: rule = .towardZero
        default: rule = roundingRule
        }
        let source = try floatSource(ins)
        var result = xmmValue(i.reg)
        switch i.imm2 {
        case Format.pd, Format.sd:
            for lane in 0..<(i.imm2 == Format.pd ? 2 : 1) {
                let value = Double(bitPattern: source[lane])
                result[lane] = value.isNaN ? source[lane] | 0x0008_0000_0000_0000 : value.rounded(rule).bitPattern
            }
        default:
            let values = Self.dwords(source)
            var lanes = Self.dwords(result)
            for lane in 0..<(i.imm2 == Format.ps ? 4 : 1) {
                let value = Float(bitPattern: values[lane])
                lanes[lane] = value.isNaN ? values[lane] | 0x0040_0000 : value.rounded(rule).bitPattern
            }
            result = Self.vector(lanes)
        }
        setXMMValue(i.reg, result)
    }

    /// DPPS/DPPD: the products of the elements imm8[7:4] selects (others +0.0), summed pairwise in
    /// the SDM's order ((0 + 1) + (2 + 3)), into the elements imm8[3:0] selects (others +0.0).
    mutating func sseDotProduct(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let a = xmmValue(i.reg), b = try sseSource(ins), control = Int(i.imm)
        if i.imm2 == 1 {
            var products = SIMD2<Double>()
            for lane in 0..<2 where control >> (4 + lane) & 1 != 0 {
                products[lane] = Double(bitPattern: a[lane]) * Double(bitPattern: b[lane])
            }
            let sum = (products[0] + products[1]).bitPattern
            setXMMValue(i.reg, Vector(control & 1 != 0 ? sum : 0, control & 2 != 0 ? sum : 0))
        } else {
            let x = unsafeBitCast(Self.dwords(a), to: SIMD4<Float>.self), y = unsafeBitCast(Self.dwords(b), to: SIMD4<Float>.self)
            var products = SIMD4<Float>()
            for lane in 0..<4 where control >> (4 + lane) & 1 != 0 { products[lane] = x[lane] * y[lane] }
            let sum = ((products[0] + products[1]) + (products[2] + products[3])).bitPattern
            var result = SIMD4<UInt32>()
            for lane in 0..<4 where control >> lane & 1 != 0 { result[lane] = sum }
            setXMMValue(i.reg, Self.vector(result))
        }
    }
}
