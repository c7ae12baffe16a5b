#if arch(x86_64)
import CHostALU
#endif

/// BT/BTS/BTR/BTC, BSF/BSR, TZCNT/LZCNT, POPCNT, SETcc/CMOVcc (SDM vol. 2).
/// The flags (and BSF/BSR's zero-source destination) that the manuals leave undefined are the host
/// CPU's on an x86-64 host (CHostALU), so that they match translated code, which runs the same host
/// instruction; elsewhere they follow AMD processors as noted at each instruction.
extension CPUCore {
    /// BT family with the bit offset in a register: for a memory operand the offset is signed and
    /// may address beyond the operand (SDM vol. 2, BT: "bit base" addressing).
    mutating func bitTestRegister(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let bits = Int64(i.size) * 8
        let offset = Int64(bitPattern: Self.signExtend(register(i.reg, i.size), i.size))
        if i.isMemory {
            let displacement = (offset >> Int64(bits.trailingZeroBitCount)) &* Int64(i.size)
            let address = (effectiveAddress(ins) &+ UInt64(bitPattern: displacement)) & Self.mask(i.addressSize)
            try bitTest(i.sub, Int(i.segment), address, UInt64(offset & (bits - 1)), i.size, locked: i.isLocked)
        } else {
            bitTestInRegister(i, UInt64(offset & (bits - 1)))
        }
    }

    mutating func bitTestImmediate(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let bit = i.imm & (UInt64(i.size) * 8 - 1)
        if i.isMemory {
            try bitTest(i.sub, Int(i.segment), effectiveAddress(ins), bit, i.size, locked: i.isLocked)
        } else {
            bitTestInRegister(i, bit)
        }
    }

    private mutating func bitTest(_ kind: UInt8, _ segment: Int, _ offset: UInt64, _ bit: UInt64, _ size: UInt8,
                                  locked: Bool) throws(Fault) {
        guard kind != 0 else {
            _ = applyBitTest(kind, size, try read(segment, offset, size), bit)
            return
        }
        let old = try readModifyWrite(segment, offset, size, locked: locked) { Self.bitTestResult(kind, $0, bit) }
        _ = applyBitTest(kind, size, old, bit)
    }

    private static func bitTestResult(_ kind: UInt8, _ value: UInt64, _ bit: UInt64) -> UInt64 {
        let selected = UInt64(1) << bit
        switch kind {
        case 1: return value | selected
        case 2: return value & ~selected
        default: return value ^ selected
        }
    }

    private mutating func bitTestInRegister(_ i: DecodedInstruction, _ bit: UInt64) {
        if let updated = applyBitTest(i.sub, i.size, register(i.rm, i.size), bit) { setRegister(i.rm, i.size, updated) }
    }

    /// Sets CF from the bit (OF, SF, AF, PF are undefined: the host's, else unchanged); returns the new
    /// value for BTS (1), BTR (2), BTC (3).
    private mutating func applyBitTest(_ kind: UInt8, _ size: UInt8, _ value: UInt64, _ bit: UInt64) -> UInt64? {
        #if arch(x86_64)
        flags.setArithmetic(host_bit_test_flags(Int32(kind), Int32(max(size, 2)), value, bit, flags.value))
        #else
        flags.set(RFlags.cf, value & (UInt64(1) << bit) != 0)
        #endif
        return kind == 0 ? nil : Self.bitTestResult(kind, value, bit)
    }

    /// BSF/BSR: for a zero source ZF=1 and the destination is unchanged (AMD APM vol. 3, BSF). The
    /// undefined flags are the host's; without it: CF, OF, SF, AF clear, PF from the index (set for zero).
    mutating func bitScan(_ ins: UnsafePointer<DecodedInstruction>, reverse: Bool) throws(Fault) {
        let i = ins.pointee
        let source = try readRM(ins, i.size)
        #if arch(x86_64)
        let scanned = host_bit_scan(reverse ? 1 : 0, Int32(i.size), register(i.reg, 8), source, flags.value)
        setRegister(i.reg, 8, scanned.value) // all 64 bits: the host decides what a zero source leaves
        flags.setArithmetic(scanned.flags)
        #else
        guard source != 0 else {
            flags.setArithmetic(RFlags.zf | RFlags.pf)
            return
        }
        let index = UInt64(reverse ? 63 - source.leadingZeroBitCount : source.trailingZeroBitCount)
        setRegister(i.reg, i.size, index)
        flags.setArithmetic(index.nonzeroBitCount & 1 == 0 ? RFlags.pf : 0)
        #endif
    }

    /// TZCNT/LZCNT: CF = source was zero, ZF = result is zero; OF, SF, AF, PF are undefined: the
    /// host's, else OF keeps its value and SF, AF, PF are cleared, as AMD processors do.
    mutating func countZeros(_ ins: UnsafePointer<DecodedInstruction>, leading: Bool) throws(Fault) {
        let i = ins.pointee
        let source = try readRM(ins, i.size)
        #if arch(x86_64)
        let counted = host_count_zeros(leading ? 1 : 0, Int32(i.size), register(i.reg, 8), source, flags.value)
        setRegister(i.reg, 8, counted.value)
        flags.setArithmetic(counted.flags)
        #else
        let bits = Int(i.size) * 8
        let count = source == 0 ? bits : (leading ? source.leadingZeroBitCount - (64 - bits) : source.trailingZeroBitCount)
        setRegister(i.reg, i.size, UInt64(count))
        flags.materialize()
        var arithmetic = flags.stored & RFlags.of
        if source == 0 { arithmetic |= RFlags.cf }
        if count == 0 { arithmetic |= RFlags.zf }
        flags.setArithmetic(arithmetic)
        #endif
    }

    mutating func popcnt(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let source = try readRM(ins, i.size)
        setRegister(i.reg, i.size, UInt64(source.nonzeroBitCount))
        flags.setArithmetic(source == 0 ? RFlags.zf : 0)
    }

    mutating func setcc(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try writeRM(ins, 1, condition(ins.pointee.sub) ? 1 : 0)
    }

    /// CMOVcc reads its source even when the condition is false; a 32-bit CMOV always zero-extends.
    mutating func cmovcc(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let source = try readRM(ins, i.size)
        setRegister(i.reg, i.size, condition(i.sub) ? source : register(i.reg, i.size))
    }
}
