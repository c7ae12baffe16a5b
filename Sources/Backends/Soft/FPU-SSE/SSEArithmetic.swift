/// Packed integer arithmetic, compares, logic, unpacks, shuffles and shifts (SSE2; SDM vol. 2).
extension CPUCore {
    mutating func sseBinary(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let a = xmmValue(i.reg), b = try sseSource(ins)
        setXMMValue(i.reg, Self.packed(i.sub, a, b))
    }

    static func bytes(_ v: Vector) -> SIMD16<UInt8> { unsafeBitCast(v, to: SIMD16<UInt8>.self) }
    static func words(_ v: Vector) -> SIMD8<UInt16> { unsafeBitCast(v, to: SIMD8<UInt16>.self) }
    static func dwords(_ v: Vector) -> SIMD4<UInt32> { unsafeBitCast(v, to: SIMD4<UInt32>.self) }
    static func vector<T: SIMD>(_ v: T) -> Vector { unsafeBitCast(v, to: Vector.self) }

    private static func packed(_ operation: UInt8, _ a: Vector, _ b: Vector) -> Vector {
        typealias S = Decoder.SSEBinary
        switch operation {
        case S.paddb: return vector(bytes(a) &+ bytes(b))
        case S.paddw: return vector(words(a) &+ words(b))
        case S.paddd: return vector(dwords(a) &+ dwords(b))
        case S.paddq: return a &+ b
        case S.psubb: return vector(bytes(a) &- bytes(b))
        case S.psubw: return vector(words(a) &- words(b))
        case S.psubd: return vector(dwords(a) &- dwords(b))
        case S.psubq: return a &- b
        case S.pminub: return vector(pointwiseMin(bytes(a), bytes(b)))
        case S.pmaxub: return vector(pointwiseMax(bytes(a), bytes(b)))
        case S.pcmpeqb: return vector(SIMD16<UInt8>(repeating: 0).replacing(with: 0xff, where: bytes(a) .== bytes(b)))
        case S.pcmpeqw: return vector(SIMD8<UInt16>(repeating: 0).replacing(with: 0xffff, where: words(a) .== words(b)))
        case S.pcmpeqd:
            return vector(SIMD4<UInt32>(repeating: 0).replacing(with: 0xffff_ffff, where: dwords(a) .== dwords(b)))
        case S.pcmpgtb:
            let x = unsafeBitCast(a, to: SIMD16<Int8>.self), y = unsafeBitCast(b, to: SIMD16<Int8>.self)
            return vector(SIMD16<UInt8>(repeating: 0).replacing(with: 0xff, where: x .> y))
        case S.pcmpgtw:
            let x = unsafeBitCast(a, to: SIMD8<Int16>.self), y = unsafeBitCast(b, to: SIMD8<Int16>.self)
            return vector(SIMD8<UInt16>(repeating: 0).replacing(with: 0xffff, where: x .> y))
        case S.pcmpgtd:
            let x = unsafeBitCast(a, to: SIMD4<Int32>.self), y = unsafeBitCast(b, to: SIMD4<Int32>.self)
            return vector(SIMD4<UInt32>(repeating: 0).replacing(with: 0xffff_ffff, where: x .> y))
        case S.and: return a & b
        case S.andn: return ~a & b
        case S.or: return a | b
        case S.xor: return a ^ b
        case S.punpcklbw...S.punpckhqdq: return unpack(operation, a, b)
        case Decoder.SSE38.first...Decoder.SSE38.last: return packed38(operation, a, b)
        default: return widePacked(operation, a, b)
        }
    }

    /// PUNPCKL*/PUNPCKH*: interleave the low or high halves, element width 1, 2, 4 or 8 bytes.
    private static func unpack(_ operation: UInt8, _ a: Vector, _ b: Vector) -> Vector {
        typealias S = Decoder.SSEBinary
        let high = operation >= S.punpckhbw
        let width = 1 << Int(operation - (high ? S.punpckhbw : S.punpcklbw))
        let x = bytes(a), y = bytes(b)
        var result = SIMD16<UInt8>()
        let start = high ? 8 : 0
        for element in 0..<(8 / width) {
            for byte in 0..<width {
                result[element * 2 * width + byte] = x[start + element * width + byte]
                result[element * 2 * width + width + byte] = y[start + element * width + byte]
            }
        }
        return vector(result)
    }

    /// PSHUFD (sub 0), PSHUFLW (1), PSHUFHW (2), SHUFPS (3).
    mutating func sseShuffle(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let source = try sseSource(ins)
        let order = Int(i.imm)
        switch i.sub {
        case 0:
            let d = Self.dwords(source)
            setXMMValue(i.reg, Self.vector(SIMD4<UInt32>(d[order & 3], d[(order >> 2) & 3], d[(order >> 4) & 3],
                                                         d[(order >> 6) & 3])))
        case 3: // SHUFPS: two dwords from the destination, two from the source
            let d = Self.dwords(xmmValue(i.reg)), e = Self.dwords(source)
            setXMMValue(i.reg, Self.vector(SIMD4<UInt32>(d[order & 3], d[(order >> 2) & 3], e[(order >> 4) & 3],
                                                         e[(order >> 6) & 3])))
        default:
            var w = Self.words(source)
            let base = i.sub == 1 ? 0 : 4
            let original = w
            for lane in 0..<4 { w[base + lane] = original[base + ((order >> (lane * 2)) & 3)] }
            setXMMValue(i.reg, Self.vector(w))
        }
    }

    /// Shifts by an immediate: sub = (opcode - 0x71) * 8 + ModRM.reg (71: words, 72: dwords, 73: qwords
    /// and whole-register byte shifts).
    mutating func sseShiftImmediate(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let value = xmmValue(i.rm)
        let count = i.imm
        let result: Vector
        switch i.sub {
        case 2, 4, 6: // PSRLW, PSRAW, PSLLW
            let w = Self.words(value)
            if i.sub == 4 {
                let shift = Int16(min(count, 15))
                result = Self.vector(unsafeBitCast(unsafeBitCast(w, to: SIMD8<Int16>.self) &>> shift, to: SIMD8<UInt16>.self))
            } else if count > 15 {
                result = Vector(0, 0)
            } else {
                result = Self.vector(i.sub == 2 ? w &>> UInt16(count) : w &<< UInt16(count))
            }
        case 10, 12, 14: // PSRLD, PSRAD, PSLLD
            let d = Self.dwords(value)
            if i.sub == 12 {
                let shift = Int32(min(count, 31))
                result = Self.vector(unsafeBitCast(unsafeBitCast(d, to: SIMD4<Int32>.self) &>> shift, to: SIMD4<UInt32>.self))
            } else if count > 31 {
                result = Vector(0, 0)
            } else {
                result = Self.vector(i.sub == 10 ? d &>> UInt32(count) : d &<< UInt32(count))
            }
        case 18, 22: // PSRLQ, PSLLQ
            result = count > 63 ? Vector(0, 0) : (i.sub == 18 ? value &>> count : value &<< count)
        case 19: // PSRLDQ
            result = Self.byteShift(value, right: Int(min(count, 16)))
        default: // 23 PSLLDQ
            result = Self.byteShift(value, right: -Int(min(count, 16)))
        }
        setXMMValue(i.rm, result)
    }

    private static func byteShift(_ value: Vector, right: Int) -> Vector {
        let source = bytes(value)
        var result = SIMD16<UInt8>()
        for lane in 0..<16 {
            let from = lane + right
            if from >= 0 && from < 16 { result[lane] = source[from] }
        }
        return vector(result)
    }
}
