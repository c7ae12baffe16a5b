/// ALU kinds as numbered by the opcode's bits 5:3 (SDM vol. 2, appendix A.3, group 1), plus TEST.
enum ALUKind {
    static let add: UInt8 = 0, or: UInt8 = 1, adc: UInt8 = 2, sbb: UInt8 = 3, and: UInt8 = 4
    static let sub: UInt8 = 5, xor: UInt8 = 6, cmp: UInt8 = 7, test: UInt8 = 8
}

/// The hottest forms of compiled code (ALU ops, MOVZX) get a handler of their own, chosen at decode
/// time (Bochs does this for every form): the kind and operand sizes are then constants in the
/// handler, so execution skips the switch over ALU kinds and access sizes, and 32/64-bit register
/// operands skip the byte-register (AH..BH) test.
extension Op {
    /// The dedicated handler for this generic form with variant `kind` (`sub`) on `size`-byte operands,
    /// or `self` when there is none. Forms with a register operand are specialised only for 4- and
    /// 8-byte operands, whose register numbers are always 0...15.
    func specialised(kind: UInt8, size: UInt8, memory: Bool) -> Op {
        let wide = size >= 4
        switch self {
        case .movzx where wide:
            switch (kind, memory) {
            case (1, false): return .movzxByteReg
            case (1, true): return .movzxByteMem
            case (2, false): return .movzxWordReg
            default: return .movzxWordMem
            }
        case .aluRegReg where wide:
            switch kind {
            case ALUKind.add: return .addRegReg
            case ALUKind.sub: return .subRegReg
            case ALUKind.xor: return .xorRegReg
            default: return self
            }
        case .aluRegImm where wide:
            switch kind {
            case ALUKind.add: return .addRegImm
            case ALUKind.sub: return .subRegImm
            case ALUKind.and: return .andRegImm
            default: return self
            }
        case .aluRegMem where wide:
            switch kind {
            case ALUKind.add: return .addRegMem
            case ALUKind.xor: return .xorRegMem
            default: return self
            }
        case .aluMemImm: return kind == ALUKind.cmp ? .cmpMemImm : self
        case .aluRegRegBranch where wide:
            switch kind {
            case ALUKind.cmp: return .cmpRegRegBranch
            case ALUKind.test: return .testRegRegBranch
            default: return self
            }
        case .aluRegImmBranch where wide:
            switch kind {
            case ALUKind.cmp: return .cmpRegImmBranch
            case ALUKind.sub: return .subRegImmBranch
            default: return self
            }
        case .aluRegMemBranch where wide: return kind == ALUKind.cmp ? .cmpRegMemBranch : self
        case .aluMemImmBranch: return kind == ALUKind.cmp ? .cmpMemImmBranch : self
        default: return self
        }
    }

    /// The generic form a dedicated handler stands for (`self` for every other op).
    var generic: Op {
        switch self {
        case .addRegReg, .subRegReg, .xorRegReg: return .aluRegReg
        case .addRegImm, .subRegImm, .andRegImm: return .aluRegImm
        case .addRegMem, .xorRegMem: return .aluRegMem
        case .cmpMemImm: return .aluMemImm
        case .cmpRegRegBranch, .testRegRegBranch: return .aluRegRegBranch
        case .cmpRegImmBranch, .subRegImmBranch: return .aluRegImmBranch
        case .cmpRegMemBranch: return .aluRegMemBranch
        case .cmpMemImmBranch: return .aluMemImmBranch
        case .movzxByteReg, .movzxByteMem, .movzxWordReg, .movzxWordMem: return .movzx
        default: return self
        }
    }
}
