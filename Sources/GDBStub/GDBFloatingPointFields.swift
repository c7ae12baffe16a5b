import VMMKit

/// The x87 registers as gdb's i386 core feature has them (its fctrl ... fop, and mxcsr), each
/// widened to the 32 bits the `g` packet carries.
extension FloatingPointRegisters {
    var gdbControl: UInt64 { UInt64(controlWord) }
    var gdbStatus: UInt64 { UInt64(statusWord) }
    var gdbCodeSelector: UInt64 { UInt64(lastCodeSelector) }
    var gdbInstructionPointer: UInt64 { lastInstructionPointer & 0xffff_ffff }
    var gdbDataSelector: UInt64 { UInt64(lastDataSelector) }
    var gdbDataPointer: UInt64 { lastDataPointer & 0xffff_ffff }
    /// FOP's 11 bits (SDM vol. 1, 8.1.10).
    var gdbOpcode: UInt64 { UInt64(lastOpcode & 0x7ff) }
    var gdbMXCSR: UInt64 { UInt64(mxcsr) }

    /// The full tag word gdb shows (SDM vol. 1, 8.1.7): FXSAVE keeps only empty or not per physical
    /// register, the rest follows from the register's contents: 00 valid, 01 zero, 10 special (NaN,
    /// infinity, denormal, unnormal), 11 empty. Physical register i is ST((i - TOP) mod 8).
    var gdbTagWord: UInt64 {
        let top = Int(statusWord >> 11 & 7)
        var word: UInt64 = 0
        for physical in 0..<8 {
            let tag: UInt64
            if abridgedTag & (1 << physical) == 0 {
                tag = 3
            } else {
                let value = st[(physical - top + 8) & 7]
                let exponent = (UInt16(value[9]) << 8 | UInt16(value[8])) & 0x7fff
                let integerBit = value[7] & 0x80 != 0
                let fractionIsZero = value[0..<7].allSatisfy { $0 == 0 } && value[7] & 0x7f == 0
                switch exponent {
                case 0x7fff: tag = 2
                case 0: tag = integerBit || !fractionIsZero ? 2 : 1
                default: tag = integerBit ? 0 : 2
                }
            }
            word |= tag << (2 * UInt64(physical))
        }
        return word
    }
}
