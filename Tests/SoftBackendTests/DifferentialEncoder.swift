/// Operand sizes and how an instruction selects them (SDM vol. 2, 2.2.1.2 and 3.1.1.1):
/// byte forms have their own opcodes, 16-bit takes 0x66, 64-bit takes REX.W.
enum OperandSize: Int, CaseIterable {
    case byte = 8, word = 16, dword = 32, qword = 64

    var bits: Int { rawValue }
    var bytes: Int { rawValue / 8 }
    var mask: UInt64 { self == .qword ? .max : (1 << UInt64(rawValue)) - 1 }
    var signBit: UInt64 { 1 << UInt64(rawValue - 1) }
    var suffix: String { String(rawValue) }

    static func available(in mode: ExecutionMode) -> [OperandSize] {
        mode == .long64 ? allCases : [.byte, .word, .dword]
    }
    /// The sizes of instructions that have no byte form.
    static func wide(in mode: ExecutionMode) -> [OperandSize] { available(in: mode).filter { $0 != .byte } }
}

/// The r/m operand of a ModRM byte.
enum ModRMOperand {
    case register(Int)
    /// `offset` bytes into the data page: RIP-relative in 64-bit mode, an absolute disp32 in 32-bit.
    case data(offset: Int)
    /// [base + index * scale + displacement], with `base` and `index` as register numbers.
    case based(base: Int, index: Int?, scale: Int, displacement: Int32)
}

/// One instruction's parts, encoded by `encode(in:at:)` (SDM vol. 2, 2.1 and 2.2.1).
struct InstructionForm {
    /// Legacy and mandatory prefixes, in order (0x66, 0xf2, 0xf3, 0xf0...).
    var prefixes: [UInt8] = []
    var rexW = false
    /// Emit a REX byte even if no bit is needed: selects SPL/BPL/SIL/DIL over AH/CH/DH/BH.
    var forceREX = false
    var opcode: [UInt8]
    /// The ModRM reg field: a register number or an opcode extension (/digit).
    var reg = 0
    var rm: ModRMOperand?
    /// For +r opcodes (BSWAP, MOV r, imm; PUSH r): the register added to the last opcode byte.
    var opcodeRegister: Int?
    var immediate: [UInt8] = []

    init(prefixes: [UInt8] = [], rexW: Bool = false, opcode: [UInt8], reg: Int = 0, rm: ModRMOperand? = nil,
         opcodeRegister: Int? = nil, immediate: [UInt8] = []) {
        self.prefixes = prefixes
        self.rexW = rexW
        self.opcode = opcode
        self.reg = reg
        self.rm = rm
        self.opcodeRegister = opcodeRegister
        self.immediate = immediate
    }

    /// Applies `size`'s operand-size selection (0x66 or REX.W), for non-byte forms.
    mutating func select(_ size: OperandSize) {
        if size == .word { prefixes.insert(0x66, at: 0) }
        if size == .qword { rexW = true }
    }

    func encode(in mode: ExecutionMode, at address: UInt64) -> [UInt8] {
        var rex: UInt8 = rexW ? 0x08 : 0
        if reg >= 8 { rex |= 0x04 }
        var tail: [UInt8] = []
        var ripRelativeAt: Int?
        var dataTarget: UInt64 = 0
        if let rm {
            switch rm {
            case let .register(number):
                if number >= 8 { rex |= 0x01 }
                tail.append(0xc0 | UInt8((reg & 7) << 3) | UInt8(number & 7))
            case let .data(offset):
                tail.append(UInt8((reg & 7) << 3) | 0x05)
                dataTarget = DifferentialLayout.dataAddress + UInt64(offset)
                ripRelativeAt = tail.count
                tail += [0, 0, 0, 0]
            case let .based(base, index, scale, displacement):
                if base >= 8 { rex |= 0x01 }
                if let index, index >= 8 { rex |= 0x02 }
                let needsSIB = index != nil || base & 7 == 4
                let mod: UInt8 = displacement == 0 && base & 7 != 5 ? 0 : (Int8(exactly: displacement) != nil ? 1 : 2)
                tail.append(mod << 6 | UInt8((reg & 7) << 3) | (needsSIB ? 4 : UInt8(base & 7)))
                if needsSIB {
                    let scaleBits = UInt8([1: 0, 2: 1, 4: 2, 8: 3][scale] ?? 0)
                    tail.append(scaleBits << 6 | UInt8(((index ?? 4) & 7) << 3) | UInt8(base & 7))
                }
                if mod == 1 { tail.append(UInt8(bitPattern: Int8(displacement))) }
                if mod == 2 { tail += littleEndian(UInt64(UInt32(bitPattern: displacement)), bytes: 4) }
            }
        }
        var opcodeBytes = opcode
        if let number = opcodeRegister {
            if number >= 8 { rex |= 0x01 }
            opcodeBytes[opcodeBytes.count - 1] |= UInt8(number & 7)
        }
        var bytes = prefixes
        if mode == .long64, rex != 0 || forceREX { bytes.append(0x40 | rex) }
        bytes += opcodeBytes
        let tailStart = bytes.count
        bytes += tail + immediate
        if let at = ripRelativeAt {
            let displacement = mode == .long64 ? dataTarget &- (address &+ UInt64(bytes.count)) : dataTarget
            let encoded = littleEndian(displacement, bytes: 4)
            for index in 0..<4 { bytes[tailStart + at + index] = encoded[index] }
        }
        return bytes
    }
}

func littleEndian(_ value: UInt64, bytes count: Int) -> [UInt8] {
    (0..<count).map { UInt8(truncatingIfNeeded: value >> UInt64(8 * $0)) }
}
