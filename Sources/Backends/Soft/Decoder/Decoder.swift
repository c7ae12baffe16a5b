/// Why an instruction could not be decoded from the bytes at hand.
enum DecodeError: Error {
    /// The instruction continues past the bytes available (the next page must be fetched).
    case needMoreBytes
    /// More than 15 bytes (SDM vol. 2, 2.3.11): #GP(0).
    case tooLong
}

/// Decodes one instruction: prefixes, opcode, ModRM/SIB, displacement and immediates (SDM vol. 2,
/// chapter 2), choosing the handler for its form. The opcode maps are in OneByteOpcodes.swift,
/// TwoByteOpcodes.swift and SSEOpcodes.swift.
struct Decoder {
    let bytes: UnsafePointer<UInt8>
    let available: Int
    /// Default operand/address size of the code segment: 2, 4 or 8.
    let mode: UInt8
    var position = 0
    var ins = DecodedInstruction()
    var operandSizeOverride = false
    var addressSizeOverride = false
    var rex: UInt8 = 0
    var segmentOverride = -1
    /// 0, 0xf2 or 0xf3: the last REP prefix (also the SSE mandatory prefix).
    var repPrefix: UInt8 = 0
    var modrm: UInt8 = 0

    init(bytes: UnsafePointer<UInt8>, available: Int, mode: UInt8) {
        self.bytes = bytes
        self.available = available
        self.mode = mode
    }

    mutating func next() throws(DecodeError) -> UInt8 {
        guard position < 15 else { throw .tooLong }
        guard position < available else { throw .needMoreBytes }
        let byte = bytes[position]
        position += 1
        return byte
    }

    // MARK: sizes

    var rexW: Bool { rex & 8 != 0 }

    /// The operand size of a "v" operand; `default64` for near branches, PUSH/POP and friends in 64-bit mode.
    func operandSize(default64: Bool = false) -> UInt8 {
        switch mode {
        case 8: return rexW ? 8 : (operandSizeOverride ? 2 : (default64 ? 8 : 4))
        case 4: return operandSizeOverride ? 2 : 4
        default: return operandSizeOverride ? 4 : 2
        }
    }

    var addressSize: UInt8 {
        switch mode {
        case 8: return addressSizeOverride ? 4 : 8
        case 4: return addressSizeOverride ? 2 : 4
        default: return addressSizeOverride ? 4 : 2
        }
    }

    /// A byte register number: without REX, 4-7 are AH, CH, DH, BH (encoded as 16-19).
    func byteRegister(_ number: UInt8) -> UInt8 {
        rex == 0 && number >= 4 && number < 8 ? 16 + number - 4 : number
    }

    // MARK: prefixes and the whole instruction

    mutating func decode() throws(DecodeError) -> DecodedInstruction {
        var opcode = try next()
        prefixLoop: while true {
            switch opcode {
            case 0x66: operandSizeOverride = true
            case 0x67: addressSizeOverride = true
            case 0xf0: ins.prefixes |= DecodedInstruction.lock
            case 0xf2: repPrefix = 0xf2
            case 0xf3: repPrefix = 0xf3
            case 0x26: segmentOverride = Segment.es
            case 0x2e: segmentOverride = Segment.cs
            case 0x36: segmentOverride = Segment.ss
            case 0x3e: segmentOverride = Segment.ds
            case 0x64: segmentOverride = Segment.fs
            case 0x65: segmentOverride = Segment.gs
            default: break prefixLoop
            }
            rex = 0 // a REX prefix only counts immediately before the opcode
            opcode = try next()
        }
        if mode == 8 && opcode & 0xf0 == 0x40 {
            rex = opcode
            opcode = try next()
            while mode == 8 && opcode & 0xf0 == 0x40 { // only the last REX counts
                rex = opcode
                opcode = try next()
            }
        }
        if repPrefix == 0xf3 { ins.prefixes |= DecodedInstruction.repz }
        if repPrefix == 0xf2 { ins.prefixes |= DecodedInstruction.repnz }
        ins.addressSize = addressSize
        ins.segment = UInt8(segmentOverride >= 0 ? segmentOverride : Segment.ds)
        ins.opcodeBytes = UInt32(opcode)
        if opcode == 0x0f {
            let second = try next()
            ins.opcodeBytes = 0x0f00 | UInt32(second)
            try decodeTwoByte(second)
        } else {
            try decodeOneByte(opcode)
        }
        ins.length = UInt8(position)
        if ins.prefixes & DecodedInstruction.lock != 0 && !ins.acceptsLock && ins.op != .undefined {
            ins.op = .ud2 // LOCK on anything but a read-modify-write of memory is #UD (SDM vol. 2, LOCK)
        } else if ins.prefixes & DecodedInstruction.lock != 0 && (ins.op == .aluMemReg || ins.op == .aluMemImm) {
            ins.op = ins.op == .aluMemReg ? .lockedALUReg : .lockedALUImm
        }
        ins.addressMask = CPUCore.mask(ins.addressSize)
        if mode == 8 && ins.isMemory && Int(ins.segment) < Segment.fs { ins.prefixes |= DecodedInstruction.flatSegment }
        let width = min(ins.size, 8)
        ins.mask = CPUCore.mask(width)
        ins.flagShift = CPUCore.flagShift(width)
        ins.op = ins.op.specialised(kind: ins.sub, size: ins.size, memory: ins.isMemory)
        return ins
    }

    /// Marks the instruction undefined (#UD at execution, logged once).
    mutating func undefined() { ins.op = .undefined }

    // MARK: ModRM, SIB, displacement

    var modrmReg: UInt8 { (modrm >> 3) & 7 }
    var modrmIsRegister: Bool { modrm >> 6 == 3 }

    /// Reads ModRM and the memory operand if any; sets `reg` and `rm` (byte-register encoded when
    /// `byteOperands`). Returns true for a memory operand.
    @discardableResult
    mutating func readModRM(byteOperands: Bool = false) throws(DecodeError) -> Bool {
        modrm = try next()
        let reg = modrmReg | ((rex & 4) << 1)
        ins.reg = byteOperands ? byteRegister(reg) : reg
        if modrmIsRegister {
            let rm = (modrm & 7) | ((rex & 1) << 3)
            ins.rm = byteOperands ? byteRegister(rm) : rm
            return false
        }
        ins.prefixes |= DecodedInstruction.memoryOperand
        if addressSize == 2 {
            try readMemory16()
        } else {
            try readMemory32or64()
        }
        if segmentOverride >= 0 { ins.segment = UInt8(segmentOverride) }
        return true
    }

    /// 16-bit addressing forms (SDM vol. 2, table 2-1).
    private mutating func readMemory16() throws(DecodeError) {
        let mod = modrm >> 6, rm = modrm & 7
        let none = DecodedInstruction.noRegister
        if mod == 0 && rm == 6 {
            ins.base = none
            ins.disp = Int64(Int16(bitPattern: try read16()))
            return
        }
        // BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP, BX (register numbers 3, 5, 6, 7).
        switch rm {
        case 0: (ins.base, ins.index) = (3, 6)
        case 1: (ins.base, ins.index) = (3, 7)
        case 2: (ins.base, ins.index) = (5, 6)
        case 3: (ins.base, ins.index) = (5, 7)
        case 4: (ins.base, ins.index) = (6, none)
        case 5: (ins.base, ins.index) = (7, none)
        case 6: (ins.base, ins.index) = (5, none)
        default: (ins.base, ins.index) = (3, none)
        }
        if rm == 2 || rm == 3 || rm == 6 { ins.segment = UInt8(Segment.ss) }
        if mod == 1 { ins.disp = Int64(Int8(bitPattern: try next())) }
        if mod == 2 { ins.disp = Int64(Int16(bitPattern: try read16())) }
    }

    /// 32/64-bit addressing forms with SIB and RIP-relative (SDM vol. 2, tables 2-2, 2-3, 2.2.1.6).
    private mutating func readMemory32or64() throws(DecodeError) {
        let mod = modrm >> 6, rm = modrm & 7
        var base: UInt8
        if rm == 4 {
            let sib = try next()
            ins.scale = sib >> 6
            let index = ((sib >> 3) & 7) | ((rex & 2) << 2)
            ins.index = index == 4 ? DecodedInstruction.noRegister : index
            base = (sib & 7) | ((rex & 1) << 3)
            if sib & 7 == 5 && mod == 0 {
                ins.base = DecodedInstruction.noRegister
                ins.disp = Int64(Int32(bitPattern: try read32()))
                return
            }
        } else if rm == 5 && mod == 0 {
            ins.base = mode == 8 ? DecodedInstruction.ripBase : DecodedInstruction.noRegister
            ins.disp = Int64(Int32(bitPattern: try read32()))
            return
        } else {
            base = rm | ((rex & 1) << 3)
        }
        ins.base = base
        if base & 7 == 4 || (base & 7 == 5 && base < 8) { ins.segment = UInt8(Segment.ss) }
        if mod == 1 { ins.disp = Int64(Int8(bitPattern: try next())) }
        if mod == 2 { ins.disp = Int64(Int32(bitPattern: try read32())) }
    }

    // MARK: immediates

    mutating func read16() throws(DecodeError) -> UInt16 {
        let low = UInt16(try next())
        return low | UInt16(try next()) << 8
    }

    mutating func read32() throws(DecodeError) -> UInt32 {
        let low = UInt32(try read16())
        return low | UInt32(try read16()) << 16
    }

    mutating func read64() throws(DecodeError) -> UInt64 {
        let low = UInt64(try read32())
        return low | UInt64(try read32()) << 32
    }

    /// imm8 sign-extended to 64 bits.
    mutating func immediate8() throws(DecodeError) -> UInt64 {
        UInt64(bitPattern: Int64(Int8(bitPattern: try next())))
    }

    /// An immediate of `size` bytes (imm32 for 8-byte operands), sign-extended to 64 bits.
    mutating func immediate(_ size: UInt8) throws(DecodeError) -> UInt64 {
        switch size {
        case 1: return try immediate8()
        case 2: return UInt64(bitPattern: Int64(Int16(bitPattern: try read16())))
        default: return UInt64(bitPattern: Int64(Int32(bitPattern: try read32())))
        }
    }
}
