/// SSSE3 packed integer operations on XMM registers (SDM vol. 2: PSHUFB, PHADDW/D, PHADDSW,
/// PHSUBW/D, PHSUBSW, PMADDUBSW, PSIGNB/W/D, PMULHRSW, PABSB/W/D, PALIGNR). Lane by lane: no hot path.
extension CPUCore {
    typealias SSSE3 = Decoder.SSE38

    static func ssse3Packed(_ operation: UInt8, _ a: Vector, _ b: Vector) -> Vector {
        switch operation {
        case SSSE3.pshufb:
            let table = bytes(a), selectors = bytes(b)
            var result = SIMD16<UInt8>()
            for lane in 0..<16 where selectors[lane] & 0x80 == 0 { result[lane] = table[Int(selectors[lane] & 15)] }
            return vector(result)
        case SSSE3.phaddw, SSSE3.phaddsw, SSSE3.phsubw, SSSE3.phsubsw:
            let x = unsafeBitCast(a, to: SIMD8<Int16>.self), y = unsafeBitCast(b, to: SIMD8<Int16>.self)
            let subtract = operation == SSSE3.phsubw || operation == SSSE3.phsubsw
            let saturate = operation == SSSE3.phaddsw || operation == SSSE3.phsubsw
            var result = SIMD8<Int16>()
            for pair in 0..<8 {
                let source = pair < 4 ? x : y, first = Int32(source[(pair & 3) * 2]), second = Int32(source[(pair & 3) * 2 + 1])
                let value = subtract ? first - second : first + second
                result[pair] = saturate ? saturatedWord(value) : Int16(truncatingIfNeeded: value)
            }
            return vector(result)
        case SSSE3.phaddd, SSSE3.phsubd:
            let x = dwords(a), y = dwords(b)
            var result = SIMD4<UInt32>()
            for lane in 0..<4 {
                let source = lane < 2 ? x : y, first = source[(lane & 1) * 2], second = source[(lane & 1) * 2 + 1]
                result[lane] = operation == SSSE3.phaddd ? first &+ second : first &- second
            }
            return vector(result)
        case SSSE3.pmaddubsw: // unsigned bytes of the destination times signed bytes of the source
            let x = bytes(a), y = unsafeBitCast(b, to: SIMD16<Int8>.self)
            var result = SIMD8<Int16>()
            for lane in 0..<8 {
                result[lane] = saturatedWord(Int32(x[2 * lane]) * Int32(y[2 * lane]) + Int32(x[2 * lane + 1]) * Int32(y[2 * lane + 1]))
            }
            return vector(result)
        case SSSE3.pmulhrsw: // ((a * b) >> 14) + 1) >> 1: the high half, rounded
            let x = unsafeBitCast(a, to: SIMD8<Int16>.self), y = unsafeBitCast(b, to: SIMD8<Int16>.self)
            var result = SIMD8<Int16>()
            for lane in 0..<8 {
                let product = Int32(x[lane]) * Int32(y[lane])
                result[lane] = Int16(truncatingIfNeeded: ((product >> 14) + 1) >> 1)
            }
            return vector(result)
        case SSSE3.psignb: return vector(negatedBySign(unsafeBitCast(a, to: SIMD16<Int8>.self), unsafeBitCast(b, to: SIMD16<Int8>.self)))
        case SSSE3.psignw: return vector(negatedBySign(unsafeBitCast(a, to: SIMD8<Int16>.self), unsafeBitCast(b, to: SIMD8<Int16>.self)))
        case SSSE3.psignd: return vector(negatedBySign(unsafeBitCast(a, to: SIMD4<Int32>.self), unsafeBitCast(b, to: SIMD4<Int32>.self)))
        case SSSE3.pabsb: return vector(magnitude(unsafeBitCast(b, to: SIMD16<Int8>.self)))
        case SSSE3.pabsw: return vector(magnitude(unsafeBitCast(b, to: SIMD8<Int16>.self)))
        default: return vector(magnitude(unsafeBitCast(b, to: SIMD4<Int32>.self)))
        }
    }

    static func saturatedWord(_ value: Int32) -> Int16 { Int16(clamping: value) }

    /// PSIGN: each element negated, zeroed or kept as the source element is negative, zero or positive.
    private static func negatedBySign<T: SIMD>(_ x: T, _ y: T) -> T where T.Scalar: FixedWidthInteger & SignedInteger {
        var result = x
        for lane in 0..<x.scalarCount {
            result[lane] = y[lane] < 0 ? 0 &- x[lane] : (y[lane] == 0 ? 0 : x[lane])
        }
        return result
    }

    /// PABS: the unsigned magnitude (the most negative value stays 0x80...).
    private static func magnitude<T: SIMD>(_ x: T) -> T where T.Scalar: FixedWidthInteger & SignedInteger {
        var result = x
        for lane in 0..<x.scalarCount where x[lane] < 0 { result[lane] = 0 &- x[lane] }
        return result
    }

    /// PALIGNR: destination:source as 32 bytes (destination high), shifted right by `count` bytes.
    static func alignRight(_ a: Vector, _ b: Vector, _ count: Int) -> Vector {
        let high = bytes(a), low = bytes(b)
        var result = SIMD16<UInt8>()
        for lane in 0..<16 {
            let from = lane + count
            if from < 16 { result[lane] = low[from] } else if from < 32 { result[lane] = high[from - 16] }
        }
        return vector(result)
    }
}
