#if arch(x86_64)
import CHostALU
#endif

/// Which operation last set the arithmetic flags (QEMU's CC_OP idea): flags are computed from its
/// operands only when something reads them.
enum LazyOp: UInt8 {
    /// The arithmetic bits in `FlagState.stored` are current.
    case none, add, adc, sub, sbb, logic, inc, dec
    /// SHL/SAL, SHR, SAR by a non-zero masked count (kept in `src`); `dst` is the unshifted value.
    case shl, shr, sar
}

/// RFLAGS with lazily evaluated arithmetic flags.
struct FlagState {
    /// RFLAGS; its arithmetic bits are only valid while `op == .none`.
    var stored: UInt64 = RFlags.fixed
    var op: LazyOp = .none
    /// 64 minus the operand width in bits: 56, 48, 32 or 0.
    var shift: UInt8 = 0
    var result: UInt64 = 0
    var dst: UInt64 = 0
    var src: UInt64 = 0
    /// The carry into ADC/SBB, or the preserved CF of INC/DEC.
    var carryIn = false

    @inline(__always) var mask: UInt64 { UInt64.max &>> UInt64(shift) }
    @inline(__always) var sign: UInt64 { (UInt64(1) &<< 63) &>> UInt64(shift) }

    /// Records an operation whose flags do not depend on a carry in (`carryIn` is left stale: only
    /// ADC, SBB, INC and DEC read it).
    @inline(__always)
    mutating func record(_ op: LazyOp, shift: UInt8, dst: UInt64, src: UInt64, result: UInt64) {
        self.op = op
        self.shift = shift
        self.dst = dst
        self.src = src
        self.result = result
    }

    /// Records SHL/SHR/SAR by a non-zero count. On an x86-64 host the flags the manual leaves undefined
    /// are the host's, which are computed from the flags before the shift: those are made current here.
    @inline(__always)
    mutating func recordShift(_ op: LazyOp, shift: UInt8, dst: UInt64, src: UInt64, result: UInt64) {
        #if arch(x86_64)
        materialize()
        #endif
        record(op, shift: shift, dst: dst, src: src, result: result)
    }

    #if arch(x86_64)
    /// CF, OF and AF of the recorded shift as the host CPU leaves them: OF is undefined beyond a
    /// one-bit count, AF always, CF for SHL/SHR by the width or more (SDM vol. 2, SAL/SAR/SHL/SHR).
    @inline(never)
    func hostShiftFlags() -> UInt64 {
        let kind: Int32 = op == .shl ? 4 : op == .shr ? 5 : 7
        let size = Int32((64 &- UInt64(shift)) / 8)
        return host_shift(kind, size, dst & mask, src, stored).flags
    }
    #endif

    @inline(__always)
    mutating func record(_ op: LazyOp, shift: UInt8, dst: UInt64, src: UInt64, result: UInt64, carryIn: Bool) {
        record(op, shift: shift, dst: dst, src: src, result: result)
        self.carryIn = carryIn
    }

    /// AND/OR/XOR/TEST: CF and OF are cleared, AF undefined (left 0), the rest follow the result alone
    /// (SDM vol. 2, AND), so the operands are not kept.
    @inline(__always)
    mutating func recordLogic(shift: UInt8, result: UInt64) {
        op = .logic
        self.shift = shift
        self.result = result
    }

    var cf: Bool {
        let m = mask
        switch op {
        case .none: return stored & RFlags.cf != 0
        case .add: return result & m < dst & m
        case .adc: return carryIn ? result & m <= dst & m : result & m < dst & m
        case .sub: return dst & m < src & m
        case .sbb: return carryIn ? dst & m <= src & m : dst & m < src & m
        case .logic: return false
        case .inc, .dec: return carryIn
        #if arch(x86_64)
        case .shl, .shr, .sar: return hostShiftFlags() & RFlags.cf != 0
        #else
        case .shl:
            let bits = 64 &- UInt64(shift)
            return src <= bits && (dst &>> (bits &- src)) & 1 != 0
        case .shr: return src <= 64 && (dst &>> (src &- 1)) & 1 != 0
        case .sar:
            let signed = Int64(bitPattern: dst &<< UInt64(shift)) &>> Int64(shift)
            return (signed &>> Int64(min(src &- 1, 63))) & 1 != 0
        #endif
        }
    }

    var zf: Bool { op == .none ? stored & RFlags.zf != 0 : result & mask == 0 }
    var sf: Bool { op == .none ? stored & RFlags.sf != 0 : result & sign != 0 }
    var pf: Bool {
        op == .none ? stored & RFlags.pf != 0 : (result & 0xff).nonzeroBitCount & 1 == 0
    }

    var of: Bool {
        switch op {
        case .none: return stored & RFlags.of != 0
        case .add, .adc, .inc: return (dst ^ result) & (src ^ result) & sign != 0
        case .sub, .sbb, .dec: return (dst ^ src) & (dst ^ result) & sign != 0
        #if arch(x86_64)
        case .logic: return false
        case .shl, .shr, .sar: return hostShiftFlags() & RFlags.of != 0
        #else
        case .logic, .sar: return false
        case .shl: return (result & sign != 0) != cf
        case .shr: return src == 1 && dst & sign != 0
        #endif
        }
    }

    var af: Bool {
        switch op {
        case .none: return stored & RFlags.af != 0
        case .logic: return false
        #if arch(x86_64)
        case .shl, .shr, .sar: return hostShiftFlags() & RFlags.af != 0
        #else
        case .shl, .shr, .sar: return true
        #endif
        default: return (dst ^ src ^ result) & 0x10 != 0
        }
    }

    /// RFLAGS with every bit current.
    var value: UInt64 {
        guard op != .none else { return stored }
        #if arch(x86_64)
        if op == .shl || op == .shr || op == .sar { return (stored & ~RFlags.arithmetic) | hostShiftFlags() }
        #endif
        var bits = stored & ~RFlags.arithmetic
        if cf { bits |= RFlags.cf }
        if pf { bits |= RFlags.pf }
        if af { bits |= RFlags.af }
        if zf { bits |= RFlags.zf }
        if sf { bits |= RFlags.sf }
        if of { bits |= RFlags.of }
        return bits
    }

    @inline(__always)
    mutating func materialize() {
        if op != .none {
            stored = value
            op = .none
        }
    }

    /// Replaces the arithmetic flags with `bits` (only its arithmetic bits are used).
    @inline(__always)
    mutating func setArithmetic(_ bits: UInt64) {
        stored = (stored & ~RFlags.arithmetic) | (bits & RFlags.arithmetic)
        op = .none
    }

    /// Sets or clears `bit` (arithmetic or not), materializing first.
    @inline(__always)
    mutating func set(_ bit: UInt64, _ on: Bool) {
        materialize()
        stored = on ? stored | bit : stored & ~bit
    }

    /// The arithmetic flags for a result of `size` bytes whose CF/OF/AF are given (shifts, multiplies).
    @inline(__always)
    mutating func setResult(_ result: UInt64, size: UInt8, cf: Bool, of: Bool, af: Bool = false) {
        let shift = 64 &- (size &<< 3)
        let masked = result & (UInt64.max &>> UInt64(shift))
        var bits: UInt64 = 0
        if cf { bits |= RFlags.cf }
        if of { bits |= RFlags.of }
        if af { bits |= RFlags.af }
        if masked == 0 { bits |= RFlags.zf }
        if masked & ((UInt64(1) &<< 63) &>> UInt64(shift)) != 0 { bits |= RFlags.sf }
        if (masked & 0xff).nonzeroBitCount & 1 == 0 { bits |= RFlags.pf }
        setArithmetic(bits)
    }

    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc; SDM vol. 1, appendix B) from
    /// the flags themselves. `CPUCore.condition` short-cuts the compare-then-branch case.
    func condition(_ cc: UInt8) -> Bool {
        slowCondition(cc >> 1) != (cc & 1 != 0)
    }

    private func slowCondition(_ pair: UInt8) -> Bool {
        switch pair {
        case 0: return of
        case 1: return cf
        case 2: return zf
        case 3: return cf || zf
        case 4: return sf
        case 5: return pf
        case 6: return sf != of
        default: return zf || sf != of
        }
    }
}

extension CPUCore {
    /// Condition code `cc`, reading the lazy-flag fields in place for the common cases: ZF of anything,
    /// any compare after CMP/SUB (operands at hand), and the logic ops (CF = OF = 0). The rest take the
    /// general path out of line, so the inlined branch handlers stay small. Both are `mutating` only so
    /// that `self` is passed by address: a non-mutating call from the mutating execute loop copies the
    /// whole CPUCore first.
    @inline(__always)
    mutating func condition(_ cc: UInt8) -> Bool {
        let pair = cc >> 1
        let op = flags.op
        let shift = UInt64(flags.shift)
        let outcome: Bool
        if pair == 2 {
            outcome = flags.zf
        } else if op == .sub {
            let a = flags.dst &<< shift, b = flags.src &<< shift
            switch pair {
            case 1: outcome = a < b
            case 3: outcome = a <= b
            case 6: outcome = Int64(bitPattern: a) < Int64(bitPattern: b)
            case 7: outcome = Int64(bitPattern: a) <= Int64(bitPattern: b)
            default: return generalCondition(cc)
            }
        } else if op == .logic && pair != 5 {
            // The result moved up to bit 63: its sign is SF; SF != OF is SF since OF = 0.
            let value = Int64(bitPattern: flags.result &<< shift)
            switch pair {
            case 0, 1: outcome = false
            case 3: outcome = value == 0
            case 4, 6: outcome = value < 0
            default: outcome = value <= 0
            }
        } else {
            return generalCondition(cc)
        }
        return outcome != (cc & 1 != 0)
    }

    /// CF, with the ADC/SBB/INC/DEC-after-compare cases read in place (see `condition`).
    @inline(__always)
    mutating func carryFlag() -> Bool {
        let shift = UInt64(flags.shift)
        switch flags.op {
        case .sub: return flags.dst &<< shift < flags.src &<< shift
        case .add: return flags.result &<< shift < flags.dst &<< shift
        case .logic: return false
        default: return generalCarryFlag()
        }
    }

    @inline(never)
    mutating func generalCarryFlag() -> Bool { flags.cf }

    @inline(never)
    mutating func generalCondition(_ cc: UInt8) -> Bool { flags.condition(cc) }
}
