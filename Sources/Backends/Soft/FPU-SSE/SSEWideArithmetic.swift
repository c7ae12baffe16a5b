/// Saturating adds, multiplies, averages, sums of differences, packs and shifts by a register count
/// (SSE2; SDM vol. 2). Lane by lane: these are not on any hot path.
extension CPUCore {
    typealias SSE = Decoder.SSEBinary

    static func widePacked(_ operation: UInt8, _ a: Vector, _ b: Vector) -> Vector {
        switch operation {
        case SSE.paddusb, SSE.psubusb, SSE.paddsb, SSE.psubsb, SSE.pavgb:
            return saturatedBytes(operation, bytes(a), bytes(b))
        case SSE.paddusw, SSE.psubusw, SSE.paddsw, SSE.psubsw, SSE.pavgw, SSE.pmullw, SSE.pmulhw, SSE.pmulhuw,
             SSE.pmaxsw, SSE.pminsw:
            return wordLanes(operation, words(a), words(b))
        case SSE.pmuludq:
            let x = dwords(a), y = dwords(b)
            return Vector(UInt64(x[0]) &* UInt64(y[0]), UInt64(x[2]) &* UInt64(y[2]))
        case SSE.pmaddwd:
            let x = unsafeBitCast(a, to: SIMD8<Int16>.self), y = unsafeBitCast(b, to: SIMD8<Int16>.self)
            var result = SIMD4<UInt32>()
            for lane in 0..<4 {
                let sum = Int32(x[2 * lane]) &* Int32(y[2 * lane]) &+ Int32(x[2 * lane + 1]) &* Int32(y[2 * lane + 1])
                result[lane] = UInt32(bitPattern: sum)
            }
            return vector(result)
        case SSE.psadbw:
            let x = bytes(a), y = bytes(b)
            var sums: (UInt64, UInt64) = (0, 0)
            for lane in 0..<16 {
                let difference = UInt64(x[lane] > y[lane] ? x[lane] - y[lane] : y[lane] - x[lane])
                if lane < 8 { sums.0 += difference } else { sums.1 += difference }
            }
            return Vector(sums.0, sums.1)
        case SSE.packsswb, SSE.packuswb, SSE.packssdw:
            return pack(operation, a, b)
        default:
            return shiftByRegister(operation, a, count: b[0])
        }
    }

    private static func saturatedBytes(_ operation: UInt8, _ x: SIMD16<UInt8>, _ y: SIMD16<UInt8>) -> Vector {
        var result = SIMD16<UInt8>()
        for lane in 0..<16 {
            let p = Int(x[lane]), q = Int(y[lane])
            let s = Int(Int8(bitPattern: x[lane])), t = Int(Int8(bitPattern: y[lane]))
            switch operation {
            case SSE.paddusb: result[lane] = UInt8(min(p + q, 255))
            case SSE.psubusb: result[lane] = UInt8(max(p - q, 0))
            case SSE.paddsb: result[lane] = UInt8(bitPattern: Int8(min(max(s + t, -128), 127)))
            case SSE.psubsb: result[lane] = UInt8(bitPattern: Int8(min(max(s - t, -128), 127)))
            default: result[lane] = UInt8((p + q + 1) >> 1) // PAVGB
            }
        }
        return vector(result)
    }

    private static func wordLanes(_ operation: UInt8, _ x: SIMD8<UInt16>, _ y: SIMD8<UInt16>) -> Vector {
        var result = SIMD8<UInt16>()
        for lane in 0..<8 {
            let p = Int(x[lane]), q = Int(y[lane])
            let s = Int(Int16(bitPattern: x[lane])), t = Int(Int16(bitPattern: y[lane]))
            let value: Int
            switch operation {
            case SSE.paddusw: value = min(p + q, 0xffff)
            case SSE.psubusw: value = max(p - q, 0)
            case SSE.paddsw: value = min(max(s + t, -32768), 32767)
            case SSE.psubsw: value = min(max(s - t, -32768), 32767)
            case SSE.pavgw: value = (p + q + 1) >> 1
            case SSE.pmullw: value = s &* t
            case SSE.pmulhw: value = (s &* t) >> 16
            case SSE.pmulhuw: value = (p &* q) >> 16
            case SSE.pmaxsw: value = max(s, t)
            default: value = min(s, t) // PMINSW
            }
            result[lane] = UInt16(truncatingIfNeeded: value)
        }
        return vector(result)
    }

    /// PACKSSWB/PACKUSWB (words to bytes) and PACKSSDW (dwords to words): destination lanes first.
    private static func pack(_ operation: UInt8, _ a: Vector, _ b: Vector) -> Vector {
        if operation == SSE.packssdw {
            let x = unsafeBitCast(a, to: SIMD4<Int32>.self), y = unsafeBitCast(b, to: SIMD4<Int32>.self)
            var result = SIMD8<UInt16>()
            for lane in 0..<8 {
                let value = lane < 4 ? x[lane] : y[lane - 4]
                result[lane] = UInt16(bitPattern: Int16(min(max(value, -32768), 32767)))
            }
            return vector(result)
        }
        let x = unsafeBitCast(a, to: SIMD8<Int16>.self), y = unsafeBitCast(b, to: SIMD8<Int16>.self)
        var result = SIMD16<UInt8>()
        for lane in 0..<16 {
            let value = Int(lane < 8 ? x[lane] : y[lane - 8])
            result[lane] = operation == SSE.packuswb ? UInt8(min(max(value, 0), 255))
                : UInt8(bitPattern: Int8(min(max(value, -128), 127)))
        }
        return vector(result)
    }

    /// PSLLW/D/Q, PSRLW/D/Q, PSRAW/D by the low quadword of the source; counts past the width clear
    /// the lanes (or fill them with the sign).
    private static func shiftByRegister(_ operation: UInt8, _ value: Vector, count: UInt64) -> Vector {
        switch operation {
        case SSE.psllw, SSE.psrlw, SSE.psraw:
            let w = words(value)
            if operation == SSE.psraw {
                return vector(unsafeBitCast(unsafeBitCast(w, to: SIMD8<Int16>.self) &>> Int16(min(count, 15)),
                                            to: SIMD8<UInt16>.self))
            }
            guard count <= 15 else { return Vector(0, 0) }
            return vector(operation == SSE.psllw ? w &<< UInt16(count) : w &>> UInt16(count))
        case SSE.pslld, SSE.psrld, SSE.psrad:
            let d = dwords(value)
            if operation == SSE.psrad {
                return vector(unsafeBitCast(unsafeBitCast(d, to: SIMD4<Int32>.self) &>> Int32(min(count, 31)),
                                            to: SIMD4<UInt32>.self))
            }
            guard count <= 31 else { return Vector(0, 0) }
            return vector(operation == SSE.pslld ? d &<< UInt32(count) : d &>> UInt32(count))
        default: // PSLLQ, PSRLQ
            guard count <= 63 else { return Vector(0, 0) }
            return operation == SSE.psllq ? value &<< count : value &>> count
        }
    }
}
