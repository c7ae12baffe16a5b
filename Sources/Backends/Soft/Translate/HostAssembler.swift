/// x86-64 registers as numbered in ModRM, SIB and REX (SDM vol. 2, 2.1.5 and 2.2.1.2).
enum HostRegister {
    static let rax: UInt8 = 0, rcx: UInt8 = 1, rdx: UInt8 = 2, rbx: UInt8 = 3, rsp: UInt8 = 4, rbp: UInt8 = 5
    static let rsi: UInt8 = 6, rdi: UInt8 = 7, r8: UInt8 = 8, r9: UInt8 = 9, r10: UInt8 = 10, r11: UInt8 = 11
    static let r12: UInt8 = 12, r13: UInt8 = 13, r14: UInt8 = 14, r15: UInt8 = 15
}

/// The r/m operand of a host instruction.
enum HostOperand {
    case register(UInt8)
    /// [base + index << scaleShift + disp]; either register may be absent.
    case memory(base: UInt8?, index: UInt8?, scaleShift: UInt8, disp: Int32)

    static func at(_ base: UInt8, _ disp: Int32 = 0) -> HostOperand {
        .memory(base: base, index: nil, scaleShift: 0, disp: disp)
    }
}

/// Writes x86-64 machine code into a buffer: instructions with a ModRM operand, immediates, and rel32
/// jumps to labels bound later. Translation is not a hot path; the code it writes is.
struct HostAssembler {
    private let start: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private(set) var offset = 0
    /// Set when the buffer ran out; everything written is then garbage and must be dropped.
    private(set) var overflowed = false
    private var labelOffsets: [Int] = []
    private var fixups: [(at: Int, label: Int)] = []

    init(start: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.start = start
        self.capacity = capacity
    }

    var address: UnsafeMutablePointer<UInt8> { start + offset }

    /// Where the assembler is, to undo an instruction that turned out untranslatable half way.
    struct Mark {
        fileprivate let offset: Int, fixups: Int
    }

    var mark: Mark { Mark(offset: offset, fixups: fixups.count) }

    mutating func rewind(to mark: Mark) {
        offset = mark.offset
        fixups.removeLast(fixups.count - mark.fixups)
    }

    // MARK: bytes

    mutating func byte(_ value: UInt8) {
        guard offset < capacity else {
            overflowed = true
            return
        }
        start[offset] = value
        offset += 1
    }

    mutating func int32(_ value: Int32) {
        for shift in stride(from: 0, to: 32, by: 8) { byte(UInt8(truncatingIfNeeded: value >> Int32(shift))) }
    }

    /// The low `size` bytes of `value`, little-endian (an immediate of 1, 2, 4 or 8 bytes).
    mutating func immediate(_ value: UInt64, size: UInt8) {
        for index in 0..<UInt64(size) { byte(UInt8(truncatingIfNeeded: value >> (index * 8))) }
    }

    // MARK: instructions

    /// One instruction with a ModRM operand: prefixes, REX, `opcode` (one to three bytes, the first
    /// in the low byte), ModRM, SIB and displacement; the caller appends any immediate.
    ///
    /// `size` chooses the operand-size prefixes: 2 adds 0x66, 8 sets REX.W, and 1 always emits a REX so
    /// that byte registers 4-7 are SPL, BPL, SIL and DIL, never AH..BH (SDM vol. 2, 2.2.1.2). A
    /// mandatory prefix (`legacy`, e.g. F3) and the address-size prefix go before REX. `byteRegisters`
    /// asks for that REX when only a source is a byte register (MOVZX, MOVSX).
    mutating func instruction(_ opcode: UInt32, size: UInt8, reg: UInt8, _ rm: HostOperand,
                              legacy: UInt8? = nil, address32: Bool = false, byteRegisters: Bool = false) {
        if size == 2 { byte(0x66) }
        if let legacy { byte(legacy) }
        if address32 { byte(0x67) }
        var rex: UInt8 = size == 8 ? 0x48 : 0x40
        rex |= (reg >> 3) << 2
        switch rm {
        case let .register(number):
            rex |= number >> 3
        case let .memory(base, index, _, _):
            rex |= ((index ?? 0) >> 3) << 1
            rex |= (base ?? 0) >> 3
        }
        if rex != 0x40 || size == 1 || byteRegisters { byte(rex) }
        opcodeBytes(opcode)
        switch rm {
        case let .register(number):
            byte(0xc0 | (reg & 7) << 3 | (number & 7))
        case let .memory(base, index, scaleShift, disp):
            // Always a SIB byte: it encodes every base (RSP and R12 included) and "no index" (100b).
            let sibIndex = (index ?? HostRegister.rsp) & 7
            guard let base else {
                byte((reg & 7) << 3 | 4)
                byte(scaleShift << 6 | sibIndex << 3 | 5)
                int32(disp)
                return
            }
            let sib = scaleShift << 6 | sibIndex << 3 | (base & 7)
            if disp == 0 && base & 7 != HostRegister.rbp { // RBP/R13 with mod 00 would mean "no base"
                byte((reg & 7) << 3 | 4)
                byte(sib)
            } else if Int32(Int8(truncatingIfNeeded: disp)) == disp {
                byte(0x40 | (reg & 7) << 3 | 4)
                byte(sib)
                byte(UInt8(truncatingIfNeeded: disp))
            } else {
                byte(0x80 | (reg & 7) << 3 | 4)
                byte(sib)
                int32(disp)
            }
        }
    }

    private mutating func opcodeBytes(_ opcode: UInt32) {
        var rest = opcode
        repeat {
            byte(UInt8(truncatingIfNeeded: rest))
            rest >>= 8
        } while rest != 0
    }

    /// MOV r64, [m] and MOV [m], r64.
    mutating func load(_ register: UInt8, _ memory: HostOperand, size: UInt8 = 8) { instruction(0x8b, size: size, reg: register, memory) }
    mutating func store(_ memory: HostOperand, _ register: UInt8, size: UInt8 = 8) { instruction(0x89, size: size, reg: register, memory) }

    /// MOV r, imm of `size` bytes (B8+r; with REX.W a full 64-bit immediate).
    mutating func move(_ register: UInt8, immediate value: UInt64, size: UInt8 = 8) {
        if size == 2 { byte(0x66) }
        let rex: UInt8 = (size == 8 ? 0x48 : 0x40) | register >> 3
        if rex != 0x40 || size == 1 { byte(rex) }
        byte((size == 1 ? 0xb0 : 0xb8) | register & 7)
        immediate(value, size: size)
    }

    /// BSWAP r32/r64 (0F C8+r, no ModRM).
    mutating func byteSwap(_ register: UInt8, size: UInt8) {
        let rex: UInt8 = (size == 8 ? 0x48 : 0x40) | register >> 3
        if rex != 0x40 { byte(rex) }
        byte(0x0f)
        byte(0xc8 | register & 7)
    }

    mutating func push(_ register: UInt8) {
        if register >= 8 { byte(0x41) }
        byte(0x50 | register & 7)
    }

    mutating func pop(_ register: UInt8) {
        if register >= 8 { byte(0x41) }
        byte(0x58 | register & 7)
    }

    // MARK: labels and jumps

    mutating func newLabel() -> Int {
        labelOffsets.append(-1)
        return labelOffsets.count - 1
    }

    mutating func bind(_ label: Int) { labelOffsets[label] = offset }

    /// Where a bound label is.
    func offset(of label: Int) -> Int { labelOffsets[label] }

    /// JMP rel32 to `label`.
    mutating func jump(to label: Int) {
        byte(0xe9)
        fixup(label)
    }

    /// Jcc rel32 to `label` on condition `cc` (SDM vol. 2, Jcc: 0F 80+cc).
    mutating func jump(if cc: UInt8, to label: Int) {
        byte(0x0f)
        byte(0x80 | cc & 0xf)
        fixup(label)
    }

    /// JRCXZ rel8, the only conditional jump that reads no flags; returns what `bindShortJump` needs.
    mutating func jumpIfRCXZero() -> Int {
        byte(0xe3)
        byte(0)
        return offset
    }

    /// Points the JRCXZ that ended at `end` here (at most 127 bytes on).
    mutating func bindShortJump(_ end: Int) {
        let distance = offset - end
        guard distance < 128, !overflowed else {
            overflowed = true
            return
        }
        start[end - 1] = UInt8(distance)
    }

    private mutating func fixup(_ label: Int) {
        fixups.append((offset, label))
        int32(0)
    }

    /// Resolves every jump; false if a label was never bound or the buffer overflowed.
    mutating func resolve() -> Bool {
        guard !overflowed else { return false }
        for (at, label) in fixups {
            let target = labelOffsets[label]
            guard target >= 0 else { return false }
            let displacement = Int32(target - (at + 4))
            for index in 0..<4 { start[at + index] = UInt8(truncatingIfNeeded: displacement >> Int32(index * 8)) }
        }
        return true
    }
}
