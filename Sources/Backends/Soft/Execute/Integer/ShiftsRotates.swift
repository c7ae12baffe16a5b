#if arch(x86_64)
import CHostALU
#endif

/// ROL/ROR/RCL/RCR/SHL/SHR/SAL/SAR and SHLD/SHRD (SDM vol. 2, "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR").
/// Flags (and SHLD/SHRD results) the manuals leave undefined are the host CPU's on an x86-64 host,
/// as translated code gets them (CHostALU; SHL/SHR/SAR ask it only when their flags are read, see
/// FlagState). Elsewhere they follow the AMD processors this was checked against: OF comes from the
/// last one-bit step of the shift (so SHR by more than 1 clears it) and shifts set AF.
extension CPUCore {
    mutating func shift(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let rawCount = i.imm2 == DecodedInstruction.countInCL ? register(1, 1) : i.imm
        let count = rawCount & (i.size == 8 ? 0x3f : 0x1f)
        guard count != 0 else {
            if i.isMemory {
                _ = try readMemory(ins, i.size) // the access still faults
            } else if i.size == 4 {
                setRegister(i.rm, 4, register(i.rm, 4)) // a 32-bit destination is still written
            }
            return
        }
        if i.isMemory {
            let segment = Int(i.segment), offset = effectiveAddress(ins)
            let value = try read(segment, offset, i.size)
            try write(segment, offset, i.size, shifted(i.sub, value, count, i.size))
        } else {
            setRegister(i.rm, i.size, shifted(i.sub, register(i.rm, i.size), count, i.size))
        }
    }

    /// SHL/SAL/SHR/SAR register, imm8 with the count masked at decode time; flags recorded lazily.
    @inline(__always)
    mutating func shiftRegisterImmediate(_ ins: UnsafePointer<DecodedInstruction>) {
        let count = ins.pointee.imm, mask = ins.pointee.mask, shift = ins.pointee.flagShift
        let destination = ins.pointee.rm
        let value = register(destination, mask: mask)
        guard count != 0 else {
            setRegister(destination, mask: mask, value) // flags unchanged; a 32-bit register is still written
            return
        }
        let result: UInt64
        switch ins.pointee.sub {
        case 5:
            result = value &>> count
            flags.recordShift(.shr, shift: shift, dst: value, src: count, result: result)
        case 7:
            let signed = Int64(bitPattern: value &<< UInt64(shift)) &>> Int64(shift)
            result = UInt64(bitPattern: signed &>> Int64(count)) & mask
            flags.recordShift(.sar, shift: shift, dst: value, src: count, result: result)
        default:
            result = (value &<< count) & mask
            flags.recordShift(.shl, shift: shift, dst: value, src: count, result: result)
        }
        setRegister(destination, mask: mask, result)
    }

    /// The result of shift/rotate `kind` by a non-zero masked `count`; sets the flags.
    mutating func shifted(_ kind: UInt8, _ value: UInt64, _ count: UInt64, _ size: UInt8) -> UInt64 {
        let bits = UInt64(size) * 8
        let mask = Self.mask(size)
        let top = Self.signBit(size)
        #if arch(x86_64)
        if kind < 4 {
            let rotated = host_shift(Int32(kind), Int32(size), value, count, flags.value)
            flags.setArithmetic(rotated.flags)
            return rotated.value
        }
        #endif
        switch kind {
        case 0, 1: // ROL, ROR: only CF and OF change
            let amount = count % bits
            let result: UInt64
            if kind == 0 {
                result = amount == 0 ? value : ((value << amount) | (value >> (bits - amount))) & mask
                let carry = result & 1 != 0
                updateCarryOverflow(carry: carry, overflow: (result & top != 0) != carry)
            } else {
                result = amount == 0 ? value : ((value >> amount) | (value << (bits - amount))) & mask
                let carry = result & top != 0
                updateCarryOverflow(carry: carry, overflow: carry != (result & (top >> 1) != 0))
            }
            return result
        case 2, 3: // RCL, RCR: rotate through CF over size+1 bits
            // A count that is a multiple of size+1 leaves the value and CF but still sets OF.
            let amount = size < 4 ? count % (bits + 1) : count
            var result = value, carry = flags.cf
            for _ in 0..<amount {
                if kind == 2 {
                    let out = result & top != 0
                    result = ((result << 1) | (carry ? 1 : 0)) & mask
                    carry = out
                } else {
                    let out = result & 1 != 0
                    result = (result >> 1) | (carry ? top : 0)
                    carry = out
                }
            }
            let overflow = kind == 2 ? (result & top != 0) != carry : (result & top != 0) != (result & (top >> 1) != 0)
            updateCarryOverflow(carry: carry, overflow: overflow)
            return result
        case 5: // SHR (count <= 63: masked above)
            let result = (value &>> count) & mask
            flags.recordShift(.shr, shift: Self.flagShift(size), dst: value, src: count, result: result)
            return result
        case 7: // SAR
            let signed = Self.signExtend(value, size)
            let result = UInt64(bitPattern: Int64(bitPattern: signed) &>> Int64(min(count, 63))) & mask
            flags.recordShift(.sar, shift: Self.flagShift(size), dst: value, src: count, result: result)
            return result
        default: // 4 SHL, 6 SAL
            let result = (value &<< count) & mask
            flags.recordShift(.shl, shift: Self.flagShift(size), dst: value, src: count, result: result)
            return result
        }
    }

    private mutating func updateCarryOverflow(carry: Bool, overflow: Bool) {
        flags.materialize()
        var bits = flags.stored & ~(RFlags.cf | RFlags.of)
        if carry { bits |= RFlags.cf }
        if overflow { bits |= RFlags.of }
        flags.stored = bits
    }

    /// SHLD (sub 0) / SHRD (sub 1): shift the destination, filling from the source register.
    mutating func shiftDouble(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let rawCount = i.imm2 == DecodedInstruction.countInCL ? register(1, 1) : i.imm
        let count = rawCount & (i.size == 8 ? 0x3f : 0x1f)
        let destination = try readRM(ins, i.size)
        guard count != 0 else {
            if !i.isMemory && i.size == 4 { setRegister(i.rm, 4, destination) }
            return
        }
        let source = register(i.reg, i.size)
        #if arch(x86_64)
        let shifted = host_double_shift(Int32(i.sub), Int32(i.size), destination, source, count, flags.value)
        flags.setArithmetic(shifted.flags)
        try writeRM(ins, i.size, shifted.value)
        #else
        let bits = UInt64(i.size) * 8
        let mask = Self.mask(i.size), top = Self.signBit(i.size)
        var result: UInt64, carry: Bool
        if i.size == 2 {
            // A 16-bit count above 16 shifts through a 48-bit pattern: the destination and the source
            // twice, as AMD processors do.
            if i.sub == 0 {
                let pattern = (destination << 32) | (source << 16) | source
                result = (pattern >> (32 - count)) & 0xffff
                carry = (pattern >> (48 - count)) & 1 != 0
            } else {
                let pattern = destination | (source << 16) | (source << 32)
                result = (pattern >> count) & 0xffff
                carry = (pattern >> (count - 1)) & 1 != 0
            }
        } else if i.sub == 0 {
            result = ((destination << count) | (source >> (bits - count))) & mask
            carry = (destination >> (bits - count)) & 1 != 0
        } else {
            result = ((destination >> count) | (source << (bits - count))) & mask
            carry = (destination >> (count - 1)) & 1 != 0
        }
        // OF from the last one-bit step: the sign change between the value before it and the result.
        // A 16-bit count above 16 clears CF (and OF for SHLD) on AMD processors.
        let wideCount = i.size == 2 && count > 16
        if wideCount { carry = false }
        let overflow = i.sub == 0 ? !wideCount && (result & top != 0) != carry
            : (result & top != 0) != (result & (top >> 1) != 0)
        flags.setResult(result, size: i.size, cf: carry, of: overflow, af: true)
        try writeRM(ins, i.size, result)
        #endif
    }
}
