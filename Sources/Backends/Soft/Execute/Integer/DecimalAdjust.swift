/// The BCD adjustments DAA/DAS/AAA/AAS/AAM/AAD and BOUND, legacy instructions of 16/32-bit code
/// (SDM vol. 2; invalid in 64-bit mode).
extension CPUCore {
    mutating func decimalAdjust(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let al = register(0, 1), ah = register(16, 1)
        let carry = flags.cf, adjust = flags.af
        switch i.sub {
        case 0, 1: // DAA, DAS
            let subtract = i.sub == 1
            var value = al, newCarry = false, newAdjust = false
            if al & 0xf > 9 || adjust {
                value = subtract ? (value &- 6) & 0xff : (value &+ 6) & 0xff
                newCarry = carry || (subtract ? al < 6 : al > 0xf9)
                newAdjust = true
            }
            if al > 0x99 || carry {
                value = subtract ? (value &- 0x60) & 0xff : (value &+ 0x60) & 0xff
                newCarry = true
            }
            setRegister(0, 1, value)
            flags.setResult(value, size: 1, cf: newCarry, of: false, af: newAdjust)
        case 2, 3: // AAA, AAS
            let adjusting = al & 0xf > 9 || adjust
            var ax = register(0, 2)
            if adjusting {
                ax = i.sub == 2 ? ax &+ 0x106 : ((ax &- 6) & 0xff) | (((ah &- 1) & 0xff) << 8)
            }
            setRegister(0, 2, (ax & 0xff0f))
            flags.setResult(ax & 0x0f, size: 1, cf: adjusting, of: false, af: adjusting)
        case 4: // AAM
            let base = i.imm & 0xff
            guard base != 0 else { throw Fault.de }
            let remainder = al % base
            setRegister(0, 2, ((al / base) << 8) | remainder)
            flags.setResult(remainder, size: 1, cf: false, of: false)
        default: // AAD
            let value = (al &+ ah &* (i.imm & 0xff)) & 0xff
            setRegister(0, 2, value)
            flags.setResult(value, size: 1, cf: false, of: false)
        }
    }

    /// BOUND: #BR unless lower <= index <= upper, all signed (SDM vol. 2, BOUND).
    mutating func bound(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let segment = Int(i.segment), address = effectiveAddress(ins)
        let lower = Int64(bitPattern: Self.signExtend(try read(segment, address, i.size), i.size))
        let upper = Int64(bitPattern: Self.signExtend(try read(segment, (address &+ UInt64(i.size)) & Self.mask(i.addressSize), i.size), i.size))
        let index = Int64(bitPattern: Self.signExtend(register(i.reg, i.size), i.size))
        if index < lower || index > upper { throw Fault(Fault.bound) }
    }
}
