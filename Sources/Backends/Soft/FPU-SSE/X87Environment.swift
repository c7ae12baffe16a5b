import CHostX87
import VMMKit

/// FLDENV, FNSTENV, FRSTOR and FNSAVE: the x87 environment in memory in the 16- or 32-bit format
/// the operand size selects, real-mode or protected-mode layout by the CPU's mode (SDM vol. 1,
/// 8.1.10, figures 8-9 to 8-12), and for FRSTOR/FNSAVE the eight registers after it, ST0 first.
extension CPUCore {
    mutating func x87Environment(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkX87()
        let i = ins.pointee
        let segment = Int(i.segment), base = effectiveAddress(ins)
        let wide = i.size != 2
        let environmentBytes: UInt64 = wide ? 28 : 14
        switch i.sub {
        case 0, 2: // FLDENV, FRSTOR: waiting instructions (SDM vol. 1, 8.6)
            try raisePendingX87Exception()
            try loadX87Environment(segment, base, wide: wide, withRegistersAt: i.sub == 2 ? base &+ environmentBytes : nil)
        default: // FNSTENV, FNSAVE
            try storeX87Environment(segment, base, wide: wide)
            if i.sub == 3 {
                for index in 0..<8 {
                    let address = base &+ environmentBytes &+ UInt64(index * 10)
                    try write(segment, address, 8, x87Registers[index * 2])
                    try write(segment, address &+ 8, 2, x87Registers[index * 2 + 1])
                }
                initializeX87() // FNSAVE then initializes the unit (SDM vol. 2, FSAVE/FNSAVE)
            } else {
                // FNSTENV then masks every exception (SDM vol. 2, FSTENV/FNSTENV), so none is pending.
                x87.controlWord |= 0x3f
                x87.refreshErrorSummary()
            }
        }
    }

    private static let environmentReservedBits = UInt64(host_x87_environment_reserved_bits())

    private var x87RealModeLayout: Bool { !protectedMode || v86Mode }

    private mutating func storeX87Environment(_ segment: Int, _ base: UInt64, wide: Bool) throws(Fault) {
        let step: UInt64 = wide ? 4 : 2
        let size: UInt8 = wide ? 4 : 2
        var fields = [UInt64(x87.controlWord), UInt64(x87.statusWord), UInt64(fullTagWord())]
        let opcode = UInt64(x87.lastOpcode & 0x7ff)
        if x87RealModeLayout {
            // Real-address and V86 layout: 20- or 32-bit linear pointers split at bit 16 (SDM vol. 1,
            // figures 8-10 and 8-12).
            let instruction = (UInt64(x87.lastCodeSelector) << 4 &+ x87.lastInstructionPointer) & 0xffff_ffff
            let data = (UInt64(x87.lastDataSelector) << 4 &+ x87.lastDataPointer) & 0xffff_ffff
            fields += [instruction & 0xffff, (instruction >> 16) << 12 | opcode, data & 0xffff, (data >> 16) << 12]
        } else {
            let instructionHigh = wide ? opcode << 16 : 0
            fields += [x87.lastInstructionPointer & 0xffff_ffff, UInt64(x87.lastCodeSelector) | instructionHigh,
                       x87.lastDataPointer & 0xffff_ffff, UInt64(x87.lastDataSelector)]
        }
        for (index, value) in fields.enumerated() {
            // The 32-bit format's reserved upper halves of FCW, FSW, FTW and FDS: what the host's
            // FNSTENV stores there (ones on the processors seen so far).
            let reserved: UInt64 = wide && [0, 1, 2, 6].contains(index) ? Self.environmentReservedBits : 0
            try write(segment, base &+ UInt64(index) * step, size, wide ? value | reserved : value & 0xffff)
        }
    }

    private mutating func loadX87Environment(_ segment: Int, _ base: UInt64, wide: Bool, withRegistersAt registers: UInt64?) throws(Fault) {
        let step: UInt64 = wide ? 4 : 2
        var fields = [UInt64](repeating: 0, count: 7)
        for index in 0..<7 { fields[index] = try read(segment, base &+ UInt64(index) * step, UInt8(step)) }
        var values = [UInt64](repeating: 0, count: 16)
        if let registers {
            for index in 0..<8 {
                let address = registers &+ UInt64(index * 10)
                values[index * 2] = try read(segment, address, 8)
                values[index * 2 + 1] = try read(segment, address &+ 8, 2)
            }
        }
        // Every read succeeded: commit.
        x87.controlWord = UInt16(truncatingIfNeeded: fields[0]) & 0x1f3f | 0x40
        // ES and B follow the loaded flags and masks, whatever the image says (as processors do).
        setX87StatusWord(UInt16(truncatingIfNeeded: fields[1]))
        x87.refreshErrorSummary()
        let tags = UInt16(truncatingIfNeeded: fields[2])
        if x87RealModeLayout {
            let high = wide ? 0xffff : 0xf
            x87.lastInstructionPointer = fields[3] & 0xffff | (fields[4] >> 12 & UInt64(high)) << 16
            x87.lastOpcode = UInt16(truncatingIfNeeded: fields[4] & 0x7ff)
            x87.lastDataPointer = fields[5] & 0xffff | (fields[6] >> 12 & UInt64(high)) << 16
            x87.lastCodeSelector = 0
            x87.lastDataSelector = 0
        } else {
            x87.lastInstructionPointer = wide ? fields[3] & 0xffff_ffff : fields[3] & 0xffff
            x87.lastCodeSelector = UInt16(truncatingIfNeeded: fields[4])
            if wide { x87.lastOpcode = UInt16(truncatingIfNeeded: fields[4] >> 16 & 0x7ff) }
            x87.lastDataPointer = wide ? fields[5] & 0xffff_ffff : fields[5] & 0xffff
            x87.lastDataSelector = UInt16(truncatingIfNeeded: fields[6])
        }
        if registers != nil {
            for index in 0..<16 { x87Registers[index] = values[index] }
        }
        // The abridged tag keeps only empty / not empty; the hardware recomputes the rest from the
        // register contents (SDM vol. 1, 8.1.7).
        var abridged: UInt8 = 0
        for register in 0..<8 where (tags >> (register * 2)) & 3 != 3 { abridged |= 1 << register }
        x87.tagWord = abridged
    }

    /// The 16-bit tag word of FNSTENV/FNSAVE from the abridged one and the register contents:
    /// 00 valid, 01 zero, 10 special (NaN, infinity, denormal, unnormal), 11 empty (SDM vol. 1,
    /// 8.1.7 and 10.5.1.1, table 10-3).
    private func fullTagWord() -> UInt16 {
        let top = Int(x87.statusWord >> 11 & 7)
        var tags: UInt16 = 0
        for register in 0..<8 {
            var tag: UInt16 = 3
            if x87.tagWord & (1 << register) != 0 {
                let stackIndex = (register - top) & 7
                let significand = x87Registers[stackIndex * 2]
                let exponent = x87Registers[stackIndex * 2 + 1] & 0x7fff
                if exponent == 0x7fff {
                    tag = 2
                } else if exponent == 0 {
                    tag = significand == 0 ? 1 : 2
                } else {
                    tag = significand >> 63 == 0 ? 2 : 0
                }
            }
            tags |= tag << (register * 2)
        }
        return tags
    }
}
