#if arch(x86_64)
import CHostALU
#endif

/// MUL/IMUL/DIV/IDIV (SDM vol. 2). Division by zero and quotient overflow raise #DE; nothing traps.
/// The flags the manuals leave undefined (multiplies: SF, ZF, AF, PF; divides: all six) are the host
/// CPU's on an x86-64 host, as translated code gets them; elsewhere they follow AMD processors:
/// multiplies keep SF, ZF, AF and PF; divides keep CF and OF, set AF and clear SF, ZF, PF.
extension CPUCore {
    mutating func mulDiv(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let size = i.size
        let source = try readRM(ins, size)
        switch i.sub {
        case 4: multiply(source, size, signed: false)
        case 5: multiply(source, size, signed: true)
        case 6: try divide(source, size, signed: false)
        default: try divide(source, size, signed: true)
        }
    }

    /// The accumulator pair for `size`: AX (as AH:AL), DX:AX, EDX:EAX, RDX:RAX.
    private func accumulatorPair(_ size: UInt8) -> (high: UInt64, low: UInt64) {
        size == 1 ? (register(16, 1), register(0, 1)) : (register(2, size), register(0, size))
    }

    private func setAccumulatorPair(_ size: UInt8, high: UInt64, low: UInt64) {
        if size == 1 {
            setRegister(0, 2, (high << 8) | (low & 0xff))
        } else {
            setRegister(0, size, low)
            setRegister(2, size, high)
        }
    }

    private mutating func multiply(_ source: UInt64, _ size: UInt8, signed: Bool) {
        let a = register(0, size)
        let high: UInt64, low: UInt64, overflow: Bool
        if signed {
            let x = Int64(bitPattern: Self.signExtend(a, size)), y = Int64(bitPattern: Self.signExtend(source, size))
            let product = x.multipliedFullWidth(by: y)
            if size == 8 {
                high = UInt64(bitPattern: product.high)
                low = product.low
                overflow = product.high != (Int64(bitPattern: product.low) >> 63)
            } else {
                let full = Int64(bitPattern: product.low) // fits: both factors are at most 32 bits
                low = UInt64(bitPattern: full) & Self.mask(size)
                high = UInt64(bitPattern: full >> Int64(size * 8)) & Self.mask(size)
                overflow = Self.signExtend(UInt64(bitPattern: full), size) != UInt64(bitPattern: full)
            }
        } else {
            let product = a.multipliedFullWidth(by: source)
            if size == 8 {
                (high, low) = (product.high, product.low)
            } else {
                low = product.low & Self.mask(size)
                high = product.low >> UInt64(size * 8)
            }
            overflow = high != 0
        }
        setAccumulatorPair(size, high: high, low: low)
        setMultiplyFlags(overflow, form: signed ? 1 : 0, size: size, a, source)
    }

    /// CF = OF = the product did not fit; the others as the host leaves them for the same `form`
    /// (0 MUL, 1 IMUL, 2 IMUL r, r/m) of `a` by `b`, else unchanged.
    private mutating func setMultiplyFlags(_ overflow: Bool, form: Int32, size: UInt8, _ a: UInt64, _ b: UInt64) {
        #if arch(x86_64)
        flags.setArithmetic(host_multiply_flags(form, Int32(size), a, b, flags.value))
        #else
        flags.materialize()
        flags.setArithmetic((flags.stored & ~(RFlags.cf | RFlags.of)) | (overflow ? RFlags.cf | RFlags.of : 0))
        #endif
    }

    private mutating func divide(_ divisor: UInt64, _ size: UInt8, signed: Bool) throws(Fault) {
        guard divisor != 0 else { throw Fault.de }
        let (high, low) = accumulatorPair(size)
        let bits = UInt64(size) * 8
        if !signed {
            guard high < divisor else { throw Fault.de }
            let quotient: UInt64, remainder: UInt64
            if size == 8 {
                (quotient, remainder) = divisor.dividingFullWidth((high, low))
            } else {
                let dividend = (high << bits) | low
                (quotient, remainder) = (dividend / divisor, dividend % divisor)
            }
            setAccumulatorPair(size, high: remainder, low: quotient)
            setDivideFlags(signed: false, size: size, high, low, divisor)
            return
        }
        let negativeDividend = high & Self.signBit(size) != 0
        let signedDivisor = Int64(bitPattern: Self.signExtend(divisor, size))
        // Work on magnitudes: |dividend| as a (high, low) pair of `bits`-wide halves.
        var magnitudeHigh = high, magnitudeLow = low
        if negativeDividend {
            magnitudeLow = (~low &+ 1) & Self.mask(size)
            magnitudeHigh = (~high &+ (magnitudeLow == 0 ? 1 : 0)) & Self.mask(size)
        }
        let magnitudeDivisor = signedDivisor < 0 ? UInt64(bitPattern: 0 &- signedDivisor) & Self.mask(size)
            : UInt64(signedDivisor)
        let divisorValue = magnitudeDivisor == 0 ? Self.signBit(size) : magnitudeDivisor // the most negative value
        guard magnitudeHigh < divisorValue else { throw Fault.de }
        let quotient: UInt64, remainder: UInt64
        if size == 8 {
            (quotient, remainder) = divisorValue.dividingFullWidth((magnitudeHigh, magnitudeLow))
        } else {
            let dividend = (magnitudeHigh << bits) | magnitudeLow
            (quotient, remainder) = (dividend / divisorValue, dividend % divisorValue)
        }
        let negativeQuotient = negativeDividend != (signedDivisor < 0)
        let limit = Self.signBit(size)
        guard negativeQuotient ? quotient <= limit : quotient < limit else { throw Fault.de }
        let signedQuotient = negativeQuotient ? (0 &- quotient) : quotient
        let signedRemainder = negativeDividend ? (0 &- remainder) : remainder
        setAccumulatorPair(size, high: signedRemainder & Self.mask(size), low: signedQuotient & Self.mask(size))
        setDivideFlags(signed: true, size: size, high, low, divisor)
    }

    /// After a division that raised no #DE (checked above, so the host's raises none either).
    private mutating func setDivideFlags(signed: Bool, size: UInt8, _ high: UInt64, _ low: UInt64, _ divisor: UInt64) {
        #if arch(x86_64)
        flags.setArithmetic(host_divide_flags(signed ? 1 : 0, Int32(size), high, low, divisor, flags.value))
        #else
        flags.materialize()
        flags.setArithmetic((flags.stored & (RFlags.cf | RFlags.of)) | RFlags.af)
        #endif
    }

    /// IMUL r, r/m (and r, r/m, imm): the truncated signed product; CF = OF = it did not fit.
    mutating func imulTwoOperand(_ ins: UnsafePointer<DecodedInstruction>, immediate: Bool) throws(Fault) {
        let i = ins.pointee
        let size = i.size
        let a = Int64(bitPattern: Self.signExtend(immediate ? try readRM(ins, size) : register(i.reg, size), size))
        let b = Int64(bitPattern: Self.signExtend(immediate ? i.imm : try readRM(ins, size), size))
        let product = a.multipliedFullWidth(by: b)
        let low = product.low & Self.mask(size)
        let overflow: Bool
        if size == 8 {
            overflow = product.high != (Int64(bitPattern: product.low) >> 63)
        } else {
            overflow = Self.signExtend(low, size) != product.low
        }
        setRegister(i.reg, size, low)
        setMultiplyFlags(overflow, form: 2, size: size, UInt64(bitPattern: a), UInt64(bitPattern: b))
    }
}
