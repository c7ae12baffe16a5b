/// PCMPESTRI, PCMPESTRM, PCMPISTRI, PCMPISTRM (SSE4.2; SDM vol. 2, 4.1 "Imm8 Control Byte Operation
/// for PCMPESTRI / PCMPESTRM / PCMPISTRI / PCMPISTRM"): compare the 16 bytes or 8 words of xmm1 with
/// those of xmm2/m128 under imm8's data format (bits 1:0), aggregation (3:2), polarity (5:4) and
/// output selection (6). Lengths are explicit (|EAX|, |EDX|, or RAX/RDX with REX.W, saturated to the
/// element count) or implicit (up to the first zero element). The m128 operand needs no alignment.
extension CPUCore {
    mutating func sseStringCompare(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        let control = Int(i.imm), implicit = i.sub & 2 != 0, wantsIndex = i.sub & 1 != 0
        let words = control & 1 != 0, signed = control & 2 != 0
        let count = words ? 8 : 16
        let a = Self.stringElements(xmmValue(i.reg), words: words, signed: signed)
        let b = Self.stringElements(i.isMemory ? try read128(ins, aligned: false) : xmmValue(i.rm), words: words, signed: signed)
        let firstLength: Int, secondLength: Int
        if implicit {
            firstLength = Self.implicitLength(a, count)
            secondLength = Self.implicitLength(b, count)
        } else {
            let size: UInt8 = i.imm2 == 1 ? 8 : 4
            firstLength = Self.explicitLength(register(0, size), size, count)
            secondLength = Self.explicitLength(register(2, size), size, count)
        }
        let aggregated = Self.aggregate(control >> 2 & 3, a, firstLength, b, secondLength, count)
        let all = (1 << count) - 1
        let result: Int
        switch control >> 4 & 3 {
        case 1: result = ~aggregated & all
        case 3: result = (aggregated ^ ((1 << secondLength) - 1)) & all
        default: result = aggregated
        }
        if wantsIndex {
            let index = result == 0 ? count : (control & 0x40 != 0 ? Int.bitWidth - 1 - result.leadingZeroBitCount
                                                                   : result.trailingZeroBitCount)
            setRegister(1, 4, UInt64(index))
        } else if control & 0x40 == 0 {
            setXMMValue(0, Vector(UInt64(result), 0))
        } else {
            var mask = SIMD16<UInt8>()
            let width = words ? 2 : 1
            for lane in 0..<16 where result >> (lane / width) & 1 != 0 { mask[lane] = 0xff }
            setXMMValue(0, Self.vector(mask))
        }
        var bits: UInt64 = 0
        if result != 0 { bits |= RFlags.cf }
        if secondLength < count { bits |= RFlags.zf }
        if firstLength < count { bits |= RFlags.sf }
        if result & 1 != 0 { bits |= RFlags.of }
        flags.setArithmetic(bits)
    }

    /// The 16 bytes or 8 words as integers of the format (sign-extended for the signed formats).
    private static func stringElements(_ value: Vector, words: Bool, signed: Bool) -> SIMD16<Int32> {
        var elements = SIMD16<Int32>()
        if words {
            let w = Self.words(value)
            for lane in 0..<8 { elements[lane] = signed ? Int32(Int16(bitPattern: w[lane])) : Int32(w[lane]) }
        } else {
            let b = Self.bytes(value)
            for lane in 0..<16 { elements[lane] = signed ? Int32(Int8(bitPattern: b[lane])) : Int32(b[lane]) }
        }
        return elements
    }

    private static func implicitLength(_ elements: SIMD16<Int32>, _ count: Int) -> Int {
        for lane in 0..<count where elements[lane] == 0 { return lane }
        return count
    }

    /// |register| as a signed value of `size` bytes, saturated to `count`.
    private static func explicitLength(_ value: UInt64, _ size: UInt8, _ count: Int) -> Int {
        let magnitude = Int64(bitPattern: signExtend(value, size)).magnitude
        return magnitude >= UInt64(count) ? count : Int(magnitude)
    }

    /// IntRes1: bit j says how element j of the second operand fares against the first operand.
    /// Pairs with an invalid element (past its length) compare as the SDM's table 4-7 forces them.
    private static func aggregate(_ mode: Int, _ a: SIMD16<Int32>, _ firstLength: Int, _ b: SIMD16<Int32>,
                                  _ secondLength: Int, _ count: Int) -> Int {
        var result = 0
        for j in 0..<count {
            var hit: Bool
            switch mode {
            case 0: // equal any: b[j] is one of the valid a[i]
                hit = false
                if j < secondLength { for i in 0..<firstLength where a[i] == b[j] { hit = true } }
            case 1: // ranges: a[i] <= b[j] <= a[i + 1] for some valid pair
                hit = false
                if j < secondLength {
                    for i in stride(from: 0, to: count - 1, by: 2) {
                        let lower = i < firstLength && b[j] >= a[i], upper = i + 1 < firstLength && b[j] <= a[i + 1]
                        if lower && upper { hit = true }
                    }
                }
            case 2: // equal each: a[j] == b[j]; two invalid elements are equal
                let firstValid = j < firstLength, secondValid = j < secondLength
                hit = firstValid && secondValid ? a[j] == b[j] : firstValid == secondValid
            default: // equal ordered: a (to its length) occurs in b at j
                hit = true
                for k in 0..<(count - j) where k < firstLength {
                    if j + k >= secondLength || a[k] != b[j + k] { hit = false; break }
                }
            }
            if hit { result |= 1 << j }
        }
        return result
    }
}
