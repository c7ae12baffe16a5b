/// Register and memory operands of decoded instructions.
extension CPUCore {
    /// The low `size` bytes (1, 2, 4 or 8) as a mask, without a branch.
    @inline(__always)
    static func mask(_ size: UInt8) -> UInt64 { UInt64.max &>> UInt64((8 &- size) &<< 3) }

    /// 64 minus the width in bits: how far a `size`-byte value is shifted to reach bit 63.
    @inline(__always)
    static func flagShift(_ size: UInt8) -> UInt8 { 64 &- (size &<< 3) }

    @inline(__always)
    static func signBit(_ size: UInt8) -> UInt64 { UInt64(1) &<< UInt64(size &* 8 &- 1) }

    /// Sign-extends the low `size` bytes of `value` to 64 bits.
    @inline(__always)
    static func signExtend(_ value: UInt64, _ size: UInt8) -> UInt64 {
        let shift = UInt64(64 &- size &* 8)
        return UInt64(bitPattern: Int64(bitPattern: value &<< shift) &>> shift)
    }

    // MARK: general registers

    /// Register `number` (16-19 are AH, CH, DH, BH for byte operands) truncated to `size` bytes.
    @inline(__always)
    func register(_ number: UInt8, _ size: UInt8) -> UInt64 { register(number, mask: Self.mask(size)) }

    /// Register `number` under an operand mask precomputed at decode time.
    @inline(__always)
    func register(_ number: UInt8, mask: UInt64) -> UInt64 {
        if number < 16 { return gpr[Int(number)] & mask }
        return (gpr[Int(number & 3)] &>> 8) & 0xff
    }

    /// The same for an operand of 4 or 8 bytes (`wide`), whose register number is 0...15 by decoding:
    /// no byte-register test (the `& 15` only keeps a decoder bug from reaching past the array).
    @inline(__always)
    func register(_ number: UInt8, mask: UInt64, wide: Bool) -> UInt64 {
        wide ? gpr[Int(number & 15)] & mask : register(number, mask: mask)
    }

    /// Writes a register the way x86-64 does: 32-bit writes zero the upper half, 8/16-bit writes merge.
    @inline(__always)
    func setRegister(_ number: UInt8, _ size: UInt8, _ value: UInt64) { setRegister(number, mask: Self.mask(size), value) }

    @inline(__always)
    func setRegister(_ number: UInt8, mask: UInt64, _ value: UInt64) {
        if number < 16 {
            let index = Int(number)
            if mask >= 0xffff_ffff {
                gpr[index] = value & mask
            } else {
                gpr[index] = (gpr[index] & ~mask) | (value & mask)
            }
        } else {
            let index = Int(number & 3)
            gpr[index] = (gpr[index] & ~0xff00) | ((value & 0xff) &<< 8)
        }
    }

    /// The same for an operand of 4 or 8 bytes (`wide`): the write replaces the whole register, a
    /// 32-bit one zero-extended (SDM vol. 1, 3.4.1.1).
    @inline(__always)
    func setRegister(_ number: UInt8, mask: UInt64, wide: Bool, _ value: UInt64) {
        if wide {
            gpr[Int(number & 15)] = value & mask
        } else {
            setRegister(number, mask: mask, value)
        }
    }

    // MARK: memory operands

    /// The offset of the memory operand (before the segment base), wrapped to the address size.
    @inline(__always)
    func effectiveAddress(_ ins: UnsafePointer<DecodedInstruction>) -> UInt64 {
        var address = UInt64(bitPattern: ins.pointee.disp)
        let base = ins.pointee.base
        if base < 16 {
            address &+= gpr[Int(base)]
        } else if base == DecodedInstruction.ripBase {
            address &+= nextRip
        }
        let index = ins.pointee.index
        if index < 16 { address &+= gpr[Int(index)] &<< UInt64(ins.pointee.scale) }
        return address & ins.pointee.addressMask
    }

    /// The linear address of the memory operand, with the segment checks a non-flat segment needs.
    @inline(__always)
    mutating func memoryLinearAddress(_ ins: UnsafePointer<DecodedInstruction>, write: Bool) throws(Fault) -> UInt64 {
        if ins.pointee.isFlat { return effectiveAddress(ins) }
        return try linearAddress(Int(ins.pointee.segment), effectiveAddress(ins), Int(ins.pointee.size), write: write)
    }

    @inline(__always)
    mutating func readMemory(_ ins: UnsafePointer<DecodedInstruction>, _ size: UInt8) throws(Fault) -> UInt64 {
        if ins.pointee.isFlat { return try readLinear(effectiveAddress(ins), size) }
        return try read(Int(ins.pointee.segment), effectiveAddress(ins), size)
    }

    @inline(__always)
    mutating func writeMemory(_ ins: UnsafePointer<DecodedInstruction>, _ size: UInt8, _ value: UInt64) throws(Fault) {
        if ins.pointee.isFlat { return try writeLinear(effectiveAddress(ins), size, value) }
        try write(Int(ins.pointee.segment), effectiveAddress(ins), size, value)
    }

    /// The r/m operand: register `rm` or the memory operand.
    @inline(__always)
    mutating func readRM(_ ins: UnsafePointer<DecodedInstruction>, _ size: UInt8) throws(Fault) -> UInt64 {
        ins.pointee.isMemory ? try readMemory(ins, size) : register(ins.pointee.rm, size)
    }

    @inline(__always)
    mutating func writeRM(_ ins: UnsafePointer<DecodedInstruction>, _ size: UInt8, _ value: UInt64) throws(Fault) {
        if ins.pointee.isMemory {
            try writeMemory(ins, size, value)
        } else {
            setRegister(ins.pointee.rm, size, value)
        }
    }

    // MARK: stack

    @inline(__always)
    mutating func push(_ value: UInt64, _ size: UInt8) throws(Fault) {
        let rsp = (gpr[4] &- UInt64(size)) & stackMask
        try write(Segment.ss, rsp, size, value)
        setStackPointer(rsp)
    }

    @inline(__always)
    mutating func pop(_ size: UInt8) throws(Fault) -> UInt64 {
        let rsp = gpr[4] & stackMask
        let value = try read(Segment.ss, rsp, size)
        setStackPointer(rsp &+ UInt64(size))
        return value
    }

    /// Writes the stack pointer as SS.B says: SP alone with a 16-bit stack; ESP, like any 32-bit
    /// register write, zero-extended into RSP with a 32-bit stack (in 32-bit code the upper half is
    /// undefined, SDM vol. 1, 3.4.1.1; translated code's 32-bit LEA clears it too).
    @inline(__always)
    func setStackPointer(_ value: UInt64) { setRegister(4, mask: stackMask, value) }

    /// Sets RIP for a branch, truncated to the operand size (SDM vol. 2, JMP: EIP/IP wrap).
    @inline(__always)
    mutating func branch(to target: UInt64, _ size: UInt8) {
        nextRip = size == 8 ? target : target & Self.mask(size)
    }
}
