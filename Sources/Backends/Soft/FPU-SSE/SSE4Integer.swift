/// SSE4.1/SSE4.2 packed integer operations on XMM registers (SDM vol. 2): multiplies, 64-bit
/// compares, PACKUSDW, signed/unsigned min and max, PHMINPOSUW, blends, PTEST, PMOVSX/PMOVZX, the
/// element extracts and inserts, INSERTPS and MPSADBW.
extension CPUCore {
    typealias SSE41 = Decoder.SSE38

    /// The 0F 38 xmm, xmm/m128 operations (`Decoder.SSE38`).
    static func packed38(_ operation: UInt8, _ a: Vector, _ b: Vector) -> Vector {
        guard operation >= SSE41.pmuldq else { return ssse3Packed(operation, a, b) }
        let sa = unsafeBitCast(a, to: SIMD4<Int32>.self), sb = unsafeBitCast(b, to: SIMD4<Int32>.self)
        let ba = unsafeBitCast(a, to: SIMD16<Int8>.self), bb = unsafeBitCast(b, to: SIMD16<Int8>.self)
        switch operation {
        case SSE41.pmuldq:
            return Vector(UInt64(bitPattern: Int64(sa[0]) * Int64(sb[0])), UInt64(bitPattern: Int64(sa[2]) * Int64(sb[2])))
        case SSE41.pmulld: return vector(dwords(a) &* dwords(b))
        case SSE41.pcmpeqq: return Vector(a[0] == b[0] ? ~0 : 0, a[1] == b[1] ? ~0 : 0)
        case SSE41.pcmpgtq:
            let x = unsafeBitCast(a, to: SIMD2<Int64>.self), y = unsafeBitCast(b, to: SIMD2<Int64>.self)
            return Vector(x[0] > y[0] ? ~0 : 0, x[1] > y[1] ? ~0 : 0)
        case SSE41.packusdw:
            var result = SIMD8<UInt16>()
            for lane in 0..<4 {
                result[lane] = UInt16(clamping: sa[lane])
                result[lane + 4] = UInt16(clamping: sb[lane])
            }
            return vector(result)
        case SSE41.pminsb: return vector(pointwiseMin(ba, bb))
        case SSE41.pmaxsb: return vector(pointwiseMax(ba, bb))
        case SSE41.pminsd: return vector(pointwiseMin(sa, sb))
        case SSE41.pmaxsd: return vector(pointwiseMax(sa, sb))
        case SSE41.pminuw: return vector(pointwiseMin(words(a), words(b)))
        case SSE41.pmaxuw: return vector(pointwiseMax(words(a), words(b)))
        case SSE41.pminud: return vector(pointwiseMin(dwords(a), dwords(b)))
        case SSE41.pmaxud: return vector(pointwiseMax(dwords(a), dwords(b)))
        default: // PHMINPOSUW: the smallest word of the source and its (lowest) index
            let x = words(b)
            var index = 0
            for lane in 1..<8 where x[lane] < x[index] { index = lane }
            return Vector(UInt64(x[index]) | UInt64(index) << 16, 0)
        }
    }

    /// BLENDPS, BLENDPD, PBLENDW, PALIGNR and MPSADBW: xmm, xmm/m128, imm8.
    mutating func sseBinaryImmediate(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let a = xmmValue(i.reg), b = try sseSource(ins), control = Int(i.imm)
        let result: Vector
        switch i.sub {
        case Decoder.SSE3A.blendps: result = Self.blend(a, b, elementSize: 4) { control >> $0 & 1 != 0 }
        case Decoder.SSE3A.blendpd: result = Self.blend(a, b, elementSize: 8) { control >> $0 & 1 != 0 }
        case Decoder.SSE3A.pblendw: result = Self.blend(a, b, elementSize: 2) { control >> $0 & 1 != 0 }
        case Decoder.SSE3A.palignr: result = Self.alignRight(a, b, control)
        default: result = Self.sumsOfAbsoluteDifferences(a, b, control)
        }
        setXMMValue(i.reg, result)
    }

    /// The elements of `b` where `fromSource(element)` holds, of `a` elsewhere.
    private static func blend(_ a: Vector, _ b: Vector, elementSize: Int, _ fromSource: (Int) -> Bool) -> Vector {
        let x = bytes(a), y = bytes(b)
        var result = x
        for lane in 0..<16 where fromSource(lane / elementSize) { result[lane] = y[lane] }
        return vector(result)
    }

    /// MPSADBW: eight sums of absolute differences between 4-byte windows of the destination (from
    /// byte 0 or 4, imm8 bit 2) and one 4-byte block of the source (imm8 bits 1:0).
    private static func sumsOfAbsoluteDifferences(_ a: Vector, _ b: Vector, _ control: Int) -> Vector {
        let x = bytes(a), y = bytes(b)
        let destinationStart = (control >> 2 & 1) * 4, sourceStart = (control & 3) * 4
        var result = SIMD8<UInt16>()
        for lane in 0..<8 {
            var sum: UInt16 = 0
            for k in 0..<4 {
                let p = x[destinationStart + lane + k], q = y[sourceStart + k]
                sum += UInt16(p > q ? p - q : q - p)
            }
            result[lane] = sum
        }
        return vector(result)
    }

    /// PBLENDVB, BLENDVPS, BLENDVPD (sub = element size): XMM0's element sign bits choose the source.
    mutating func sseBlendVariable(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let a = xmmValue(i.reg), b = try sseSource(ins), selectors = Self.bytes(xmmValue(0))
        let size = Int(i.sub)
        setXMMValue(i.reg, Self.blend(a, b, elementSize: size) { selectors[$0 * size + size - 1] & 0x80 != 0 })
    }

    /// PTEST: ZF = (destination AND source) == 0, CF = (NOT destination AND source) == 0; AF OF PF SF clear.
    mutating func ptest(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let a = xmmValue(ins.pointee.reg), b = try sseSource(ins)
        let and = a & b, andNot = ~a & b
        var bits: UInt64 = 0
        if and[0] | and[1] == 0 { bits |= RFlags.zf }
        if andNot[0] | andNot[1] == 0 { bits |= RFlags.cf }
        flags.setArithmetic(bits)
    }

    /// PMOVSX/PMOVZX: sub bits 2:0 = bw bd bq wd wq dq, bit 4 = zero-extend. The memory operand is only
    /// as wide as the elements read (8, 4 or 2 bytes), with no alignment requirement.
    mutating func ssePackedExtend(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let kind = Int(i.sub & 7), zeroExtend = i.sub & 0x10 != 0
        let fromSize: Int, toSize: Int
        switch kind {
        case 0: (fromSize, toSize) = (1, 2)
        case 1: (fromSize, toSize) = (1, 4)
        case 2: (fromSize, toSize) = (1, 8)
        case 3: (fromSize, toSize) = (2, 4)
        case 4: (fromSize, toSize) = (2, 8)
        default: (fromSize, toSize) = (4, 8)
        }
        let count = 16 / toSize
        let source = i.isMemory ? try readMemory(ins, UInt8(count * fromSize)) : xmm[Int(i.rm & 15) * 2]
        var result = Vector(0, 0)
        for element in 0..<count {
            let raw = source >> UInt64(element * fromSize * 8) & Self.mask(UInt8(fromSize))
            let value = (zeroExtend ? raw : Self.signExtend(raw, UInt8(fromSize))) & Self.mask(UInt8(toSize))
            let bit = element * toSize * 8
            result[bit / 64] |= value << UInt64(bit % 64)
        }
        setXMMValue(i.reg, result)
    }

    /// PEXTRB/W/D/Q and EXTRACTPS r/m, xmm, imm8 (sub = element size): a register destination is
    /// zero-extended (to 64 bits for PEXTRQ, 32 otherwise, which clears the upper half in 64-bit mode).
    mutating func sseExtract(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let size = Int(i.sub), index = Int(i.imm) & (16 / size - 1)
        let value = xmmValue(i.reg)[index * size / 8] >> UInt64(index * size % 8 * 8) & Self.mask(i.sub)
        if i.isMemory {
            try writeMemory(ins, i.sub, value)
        } else {
            setRegister(i.rm, max(i.sub, 4), value)
        }
    }

    /// PINSRB/D/Q xmm, r32/r64/m, imm8 (sub = element size): replaces the selected element.
    mutating func sseInsert(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let size = Int(i.sub), index = Int(i.imm) & (16 / size - 1)
        let value = i.isMemory ? try readMemory(ins, i.sub) : register(i.rm, i.sub)
        var result = xmmValue(i.reg)
        let lane = index * size / 8, shift = UInt64(index * size % 8 * 8)
        result[lane] = result[lane] & ~(Self.mask(i.sub) << shift) | value << shift
        setXMMValue(i.reg, result)
    }

    /// INSERTPS xmm, xmm/m32, imm8: source dword imm8[7:6] (a memory operand is the dword itself) into
    /// destination dword imm8[5:4], then the dwords set in imm8[3:0] are zeroed.
    mutating func insertps(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let control = Int(i.imm)
        let element = i.isMemory ? UInt32(truncatingIfNeeded: try readMemory(ins, 4))
            : Self.dwords(xmmValue(i.rm))[control >> 6 & 3]
        var result = Self.dwords(xmmValue(i.reg))
        result[control >> 4 & 3] = element
        for lane in 0..<4 where control >> lane & 1 != 0 { result[lane] = 0 }
        setXMMValue(i.reg, Self.vector(result))
    }
}
