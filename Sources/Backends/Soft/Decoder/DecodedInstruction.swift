/// One instruction decoded once and cached: the handler (`op`) is chosen at decode time for the
/// instruction's form (register or memory operand, operand size, immediate), so execution never
/// looks at prefixes or ModRM again (Bochs' bxInstruction_c idea).
struct DecodedInstruction {
    var op: Op = .undefined
    var length: UInt8 = 0
    /// Operand size in bytes: 1, 2, 4 or 8 (16 for SSE operands).
    var size: UInt8 = 4
    /// Address size in bytes: 2, 4 or 8.
    var addressSize: UInt8 = 4
    /// ModRM.reg (with REX.R), or the register in the opcode. Byte registers AH..BH are 16...19.
    var reg: UInt8 = 0
    /// ModRM.rm register (with REX.B) for register forms.
    var rm: UInt8 = 0
    /// Memory operand: base and index registers (`noRegister` when absent, `ripBase` for RIP-relative).
    var base: UInt8 = DecodedInstruction.noRegister
    var index: UInt8 = DecodedInstruction.noRegister
    var scale: UInt8 = 0
    var segment: UInt8 = UInt8(Segment.ds)
    /// Operation variant: ALU kind, condition code, shift kind, group member, ...
    var sub: UInt8 = 0
    var prefixes: UInt8 = 0
    var disp: Int64 = 0
    var imm: UInt64 = 0
    /// `size` as a mask of the operand's bits and as 64 minus its width (the lazy-flags shift),
    /// computed once at decode time for the hot handlers.
    var mask: UInt64 = 0xffff_ffff
    var flagShift: UInt8 = 32
    /// `addressSize` as a mask.
    var addressMask: UInt64 = 0xffff_ffff
    /// A second immediate: ENTER's nesting level, a far pointer's selector, `countInCL` for shifts.
    var imm2: UInt16 = 0
    /// The first bytes, for the unimplemented-opcode log.
    var opcodeBytes: UInt32 = 0

    static let noRegister: UInt8 = 0xff
    /// `imm2` of shifts whose count is CL rather than `imm`.
    static let countInCL: UInt16 = 1
    static let ripBase: UInt8 = 16

    /// `prefixes` bits.
    static let repz: UInt8 = 1, repnz: UInt8 = 2, lock: UInt8 = 4
    static let memoryOperand: UInt8 = 32
    /// A 64-bit-mode memory operand through ES/CS/SS/DS: base 0 and no limit, so the effective
    /// address is the linear address (SDM vol. 3, 3.4.4).
    static let flatSegment: UInt8 = 64
    var hasRep: Bool { prefixes & (Self.repz | Self.repnz) != 0 }
    var isMemory: Bool { prefixes & Self.memoryOperand != 0 }
    var isLocked: Bool { prefixes & Self.lock != 0 }
    var isFlat: Bool { prefixes & Self.flatSegment != 0 }
}

extension DecodedInstruction {
    /// The instructions LOCK may prefix, and only with a memory destination (SDM vol. 2, LOCK); MOV CRn
    /// accepts it as AMD's CR8 encoding.
    var acceptsLock: Bool {
        switch op {
        case .movToCR, .movFromCR: return true
        case .aluMemReg, .aluMemImm: return sub < 7
        case .unaryMem, .xaddMemReg, .xchgMemReg, .cmpxchgWide: return true
        case .cmpxchg: return isMemory
        case .bitTestReg, .bitTestImm: return isMemory && sub != 0
        default: return false
        }
    }
}
