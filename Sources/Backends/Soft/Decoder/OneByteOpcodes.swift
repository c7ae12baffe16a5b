import CHostX87
/// The one-byte opcode map (SDM vol. 2, table A-2).
extension Decoder {
    mutating func decodeOneByte(_ opcode: UInt8) throws(DecodeError) {
        let legacyOnly = mode == 8 // opcodes invalid in 64-bit mode
        switch opcode {
        case 0x00...0x3f where opcode & 7 < 6:
            try decodeALU(opcode)
        case 0x06, 0x0e, 0x16, 0x1e:
            if legacyOnly { return undefined() }
            ins.op = .pushSeg; ins.sub = opcode >> 3; ins.size = operandSize()
        case 0x07, 0x17, 0x1f:
            if legacyOnly { return undefined() }
            ins.op = .popSeg; ins.sub = opcode >> 3; ins.size = operandSize()
        case 0x27, 0x2f, 0x37, 0x3f:
            if legacyOnly { return undefined() }
            ins.op = .decimalAdjust; ins.sub = opcode >> 3 & 1 | (opcode >> 4 & 1) << 1
        case 0xd4, 0xd5:
            if legacyOnly { return undefined() }
            ins.op = .decimalAdjust; ins.sub = opcode == 0xd4 ? 4 : 5; ins.imm = UInt64(try next())
        case 0x62:
            if legacyOnly { return undefined() } // EVEX is not implemented
            ins.size = operandSize()
            guard try readModRM() else { return undefined() }
            ins.op = .bound
        case 0x40...0x4f: // INC/DEC r (REX in 64-bit mode, handled as a prefix)
            ins.op = .unaryReg; ins.sub = (opcode >> 3) & 1; ins.rm = opcode & 7; ins.size = operandSize()
        case 0x50...0x57:
            ins.op = .pushReg; ins.rm = (opcode & 7) | ((rex & 1) << 3); ins.size = operandSize(default64: true)
        case 0x58...0x5f:
            ins.op = .popReg; ins.rm = (opcode & 7) | ((rex & 1) << 3); ins.size = operandSize(default64: true)
        case 0x60:
            if legacyOnly { return undefined() }
            ins.op = .pusha; ins.size = operandSize()
        case 0x61:
            if legacyOnly { return undefined() }
            ins.op = .popa; ins.size = operandSize()
        case 0x63:
            guard mode == 8 else { return undefined() } // ARPL is not implemented
            ins.size = operandSize()
            try readModRM()
            ins.op = .movsxd
        case 0x68:
            ins.op = .pushImm; ins.size = operandSize(default64: true); ins.imm = try immediate(min(ins.size, 4))
        case 0x6a:
            ins.op = .pushImm; ins.size = operandSize(default64: true); ins.imm = try immediate8()
        case 0x69, 0x6b:
            ins.size = operandSize()
            try readModRM()
            ins.op = .imulRegRMImm
            ins.imm = opcode == 0x69 ? try immediate(min(ins.size, 4)) : try immediate8()
        case 0x6c...0x6f:
            ins.op = .string; ins.sub = opcode < 0x6e ? 5 : 6
            ins.size = opcode & 1 == 0 ? 1 : min(operandSize(), 4)
        case 0x70...0x7f:
            ins.op = .jcc; ins.sub = opcode & 0xf; ins.imm = try immediate8(); ins.size = operandSize(default64: true)
        case 0x80, 0x81, 0x82, 0x83:
            if opcode == 0x82 && legacyOnly { return undefined() }
            let byte = opcode & 1 == 0
            ins.size = byte ? 1 : operandSize()
            let memory = try readModRM(byteOperands: byte)
            ins.sub = modrmReg
            ins.op = memory ? .aluMemImm : .aluRegImm
            ins.imm = opcode == 0x81 ? try immediate(min(ins.size, 4)) : try immediate8()
        case 0x84, 0x85:
            ins.size = opcode == 0x84 ? 1 : operandSize()
            let memory = try readModRM(byteOperands: opcode == 0x84)
            ins.sub = 8
            ins.op = memory ? .aluMemReg : .aluRegReg
        case 0x86, 0x87:
            ins.size = opcode == 0x86 ? 1 : operandSize()
            let memory = try readModRM(byteOperands: opcode == 0x86)
            ins.op = memory ? .xchgMemReg : .xchgRegReg
        case 0x88...0x8b:
            let byte = opcode & 1 == 0
            ins.size = byte ? 1 : operandSize()
            let memory = try readModRM(byteOperands: byte)
            let toRegister = opcode & 2 != 0
            if memory {
                ins.op = toRegister ? .movRegMem : .movMemReg
            } else {
                ins.op = .movRegReg
                if toRegister { swap(&ins.reg, &ins.rm) }
            }
        case 0x8c:
            ins.size = operandSize()
            let memory = try readModRM()
            ins.reg = modrmReg
            guard ins.reg < 6 else { return undefined() }
            if memory { ins.size = 2 }
            ins.op = memory ? .movMemSeg : .movRegSeg
        case 0x8d:
            ins.size = operandSize()
            guard try readModRM() else { return undefined() }
            ins.op = .lea
        case 0x8e:
            ins.size = 2
            try readModRM()
            ins.reg = modrmReg
            guard ins.reg < 6, ins.reg != UInt8(Segment.cs) else { return undefined() }
            ins.op = .movSegRM
        case 0x8f:
            ins.size = operandSize(default64: true)
            let memory = try readModRM()
            guard modrmReg == 0 else { return undefined() }
            ins.op = memory ? .popMem : .popReg
        case 0x90:
            if rex & 1 != 0 {
                ins.op = .xchgRegReg; ins.size = operandSize(); ins.reg = 0; ins.rm = 8
            } else {
                ins.op = .nop
            }
        case 0x91...0x97:
            ins.op = .xchgRegReg; ins.size = operandSize(); ins.reg = 0; ins.rm = (opcode & 7) | ((rex & 1) << 3)
        case 0x98: ins.op = .cbw; ins.size = operandSize()
        case 0x99: ins.op = .cwd; ins.size = operandSize()
        case 0x9a:
            if legacyOnly { return undefined() }
            ins.op = .callFar; ins.size = operandSize(); ins.imm = ins.size == 2 ? UInt64(try read16()) : UInt64(try read32())
            ins.imm2 = try read16()
        case 0x9b: ins.op = .x87Control; ins.sub = 6
        case 0x9c: ins.op = .pushf; ins.size = operandSize(default64: true)
        case 0x9d: ins.op = .popf; ins.size = operandSize(default64: true)
        case 0x9e: ins.op = .sahf
        case 0x9f: ins.op = .lahf
        case 0xa0...0xa3:
            ins.size = opcode & 1 == 0 ? 1 : operandSize()
            ins.prefixes |= DecodedInstruction.memoryOperand
            ins.base = DecodedInstruction.noRegister
            ins.reg = 0
            switch addressSize {
            case 2: ins.disp = Int64(try read16())
            case 4: ins.disp = Int64(try read32())
            default: ins.disp = Int64(bitPattern: try read64())
            }
            ins.op = opcode < 0xa2 ? .movRegMem : .movMemReg
        case 0xa4...0xa7, 0xaa...0xaf:
            ins.op = .string
            ins.size = opcode & 1 == 0 ? 1 : operandSize()
            switch opcode & 0xfe {
            case 0xa4: ins.sub = 0
            case 0xa6: ins.sub = 1
            case 0xaa: ins.sub = 2
            case 0xac: ins.sub = 3
            default: ins.sub = 4
            }
        case 0xa8, 0xa9:
            ins.size = opcode == 0xa8 ? 1 : operandSize()
            ins.op = .aluRegImm; ins.sub = 8; ins.rm = 0; ins.imm = try immediate(min(ins.size, 4))
        case 0xb0...0xb7:
            ins.op = .movRegImm; ins.size = 1; ins.rm = byteRegister((opcode & 7) | ((rex & 1) << 3))
            ins.imm = UInt64(try next())
        case 0xb8...0xbf:
            ins.op = .movRegImm; ins.size = operandSize(); ins.rm = (opcode & 7) | ((rex & 1) << 3)
            ins.imm = ins.size == 8 ? try read64() : try immediate(ins.size)
        case 0xc0, 0xc1, 0xd0...0xd3:
            let byte = opcode & 1 == 0
            ins.size = byte ? 1 : operandSize()
            try readModRM(byteOperands: byte)
            ins.op = .shift; ins.sub = modrmReg
            switch opcode {
            case 0xc0, 0xc1: ins.imm = UInt64(try next())
            case 0xd0, 0xd1: ins.imm = 1
            default: ins.imm2 = DecodedInstruction.countInCL
            }
            if opcode < 0xd2 && modrmIsRegister && modrmReg >= 4 {
                ins.op = .shiftRegisterImmediate
                ins.imm &= ins.size == 8 ? 0x3f : 0x1f
            }
        case 0xc2:
            ins.op = .ret; ins.size = operandSize(default64: true); ins.imm = UInt64(try read16())
        case 0xc3:
            ins.op = .ret; ins.size = operandSize(default64: true)
        case 0xc4, 0xc5:
            if legacyOnly { return undefined() }
            ins.size = operandSize()
            guard try readModRM() else { return undefined() } // VEX is not implemented
            ins.op = .loadFarPointer; ins.sub = UInt8(opcode == 0xc4 ? Segment.es : Segment.ds)
        case 0xc6, 0xc7:
            let byte = opcode == 0xc6
            ins.size = byte ? 1 : operandSize()
            let memory = try readModRM(byteOperands: byte)
            guard modrmReg == 0 else { return undefined() }
            ins.op = memory ? .movMemImm : .movRegImm
            ins.imm = try immediate(min(ins.size, 4))
        case 0xc8:
            ins.op = .enter; ins.size = operandSize(default64: true); ins.imm = UInt64(try read16())
            ins.imm2 = UInt16(try next())
        case 0xc9:
            ins.op = .leave; ins.size = operandSize(default64: true)
        case 0xca, 0xcb:
            ins.op = .retFar; ins.size = operandSize(); ins.imm = opcode == 0xca ? UInt64(try read16()) : 0
        case 0xcc: ins.op = .int3
        case 0xcd: ins.op = .int; ins.imm = UInt64(try next())
        case 0xce:
            if legacyOnly { return undefined() }
            ins.op = .into
        case 0xcf: ins.op = .iret; ins.size = operandSize()
        case 0xd6:
            if legacyOnly { return undefined() }
            ins.op = .salc
        case 0xd7: ins.op = .xlat; ins.size = 1
        case 0xd8...0xdf:
            try decodeX87(opcode)
        case 0xe0...0xe2:
            ins.op = .loop; ins.sub = opcode & 3; ins.imm = try immediate8(); ins.size = operandSize(default64: true)
        case 0xe3:
            ins.op = .jcxz; ins.imm = try immediate8(); ins.size = operandSize(default64: true)
        case 0xe4...0xe7, 0xec...0xef:
            ins.op = .io
            ins.size = opcode & 1 == 0 ? 1 : min(operandSize(), 4)
            ins.sub = (opcode & 2 != 0 ? 1 : 0) | (opcode & 8 != 0 ? 2 : 0)
            if opcode < 0xe8 { ins.imm = UInt64(try next()) }
        case 0xe8:
            ins.op = .callRel; ins.size = operandSize(default64: true); ins.imm = try immediate(min(ins.size, 4))
        case 0xe9:
            ins.op = .jmpRel; ins.size = operandSize(default64: true); ins.imm = try immediate(min(ins.size, 4))
        case 0xea:
            if legacyOnly { return undefined() }
            ins.op = .jmpFar; ins.size = operandSize(); ins.imm = ins.size == 2 ? UInt64(try read16()) : UInt64(try read32())
            ins.imm2 = try read16()
        case 0xeb:
            ins.op = .jmpRel; ins.size = operandSize(default64: true); ins.imm = try immediate8()
        case 0xf1: ins.op = .int1
        case 0xf4: ins.op = .hlt
        case 0xf5: ins.op = .flagOp; ins.sub = 2
        case 0xf6, 0xf7:
            let byte = opcode == 0xf6
            ins.size = byte ? 1 : operandSize()
            let memory = try readModRM(byteOperands: byte)
            switch modrmReg {
            case 0, 1:
                ins.op = memory ? .aluMemImm : .aluRegImm; ins.sub = 8; ins.imm = try immediate(min(ins.size, 4))
            case 2, 3:
                ins.op = memory ? .unaryMem : .unaryReg; ins.sub = modrmReg
            default:
                ins.op = .mulDiv; ins.sub = modrmReg
            }
        case 0xf8, 0xf9: ins.op = .flagOp; ins.sub = opcode & 1
        case 0xfa, 0xfb: ins.op = .flagOp; ins.sub = 5 + (opcode & 1)
        case 0xfc, 0xfd: ins.op = .flagOp; ins.sub = 3 + (opcode & 1)
        case 0xfe:
            ins.size = 1
            let memory = try readModRM(byteOperands: true)
            guard modrmReg < 2 else { return undefined() }
            ins.op = memory ? .unaryMem : .unaryReg; ins.sub = modrmReg
        case 0xff:
            try decodeGroup5()
        default:
            undefined()
        }
    }

    /// ADD/OR/ADC/SBB/AND/SUB/XOR/CMP in their six forms (SDM vol. 2, table A-2 rows 0-3).
    private mutating func decodeALU(_ opcode: UInt8) throws(DecodeError) {
        ins.sub = opcode >> 3
        let form = opcode & 7
        let byte = form & 1 == 0
        ins.size = byte ? 1 : operandSize()
        switch form {
        case 0, 1:
            ins.op = try readModRM(byteOperands: byte) ? .aluMemReg : .aluRegReg
        case 2, 3:
            if try readModRM(byteOperands: byte) {
                ins.op = .aluRegMem
            } else {
                ins.op = .aluRegReg
                swap(&ins.reg, &ins.rm)
            }
        default:
            ins.op = .aluRegImm; ins.rm = 0; ins.imm = try immediate(min(ins.size, 4))
        }
    }

    /// INC, DEC, CALL, CALLF, JMP, JMPF, PUSH on Ev (SDM vol. 2, table A-6 group 5).
    private mutating func decodeGroup5() throws(DecodeError) {
        modrm = 0
        let peek = position < available ? bytes[position] : 0
        let member = (peek >> 3) & 7
        let branch = member >= 2 && member != 3 && member != 5
        ins.size = branch ? operandSize(default64: true) : operandSize()
        let memory = try readModRM()
        switch member {
        case 0, 1: ins.op = memory ? .unaryMem : .unaryReg; ins.sub = member
        case 2: ins.op = .callIndirect
        case 4: ins.op = .jmpIndirect
        case 3, 5:
            guard memory else { return undefined() }
            ins.op = member == 3 ? .callFarIndirect : .jmpFarIndirect
        case 6: ins.op = memory ? .pushMem : .pushReg
        default: undefined()
        }
    }

    /// The x87 escapes D8-DF (SDM vol. 2, tables ). The control instructions whose
    /// result depends on the CPU's mode or that never wait run in Swift (`x87Control`,
    /// `x87Environment`); every other defined form runs on the host's x87 unit (`x87Host`, see
    /// CHostX87.h). Reserved encodings, and undocumented aliases some CPUs accept, are undefined.
    private mutating func decodeX87(_ opcode: UInt8) throws(DecodeError) {
        let memory = try readModRM()
        let escape = Int(opcode & 7)
        // FOP: the low three opcode bits and ModRM (SDM vol. 1, 8.1.10).
        let lastOpcode = UInt64(escape) << 8 | UInt64(modrm)
        if let control = x87ControlForm(opcode, memory: memory) {
            ins.op = .x87Control
            ins.sub = control
            ins.size = 2
            return
        }
        if memory, modrmReg & 4 != 0, opcode == 0xd9 || opcode == 0xdd, modrmReg & 1 == 0 {
            // FLDENV, FNSTENV (D9 /4, /6) and FRSTOR, FNSAVE (DD /4, /6): 14/28 or 94/108 bytes by
            // operand size (SDM vol. 1, 8.1.10, figures 8-9 to 8-12).
            ins.op = .x87Environment
            ins.sub = (opcode == 0xdd ? 2 : 0) | (modrmReg & 2) >> 1
            ins.size = operandSize()
            return
        }
        let (access, bytes) = memory ? Self.x87MemoryOperand(opcode, Int(modrmReg & 7)) : (UInt8(0), UInt8(0))
        guard memory ? bytes != 0 : Self.x87RegisterFormDefined(opcode, modrm) else { return undefined() }
        ins.op = .x87Host
        ins.sub = access
        ins.imm2 = UInt16(bytes)
        let stub = memory ? Int(HOST_X87_MEMORY_STUBS) + escape * 8 + Int(modrmReg & 7) : escape * 64 + Int(modrm & 0x3f)
        ins.imm = UInt64(stub) | lastOpcode << 16
        ins.size = 4
    }

    /// The Swift-run control forms: `x87Control` sub codes (see `Op`).
    private func x87ControlForm(_ opcode: UInt8, memory: Bool) -> UInt8? {
        switch (opcode, memory, modrmReg & 7, modrm) {
        case (0xdb, false, _, 0xe3): return 0 // FNINIT
        case (0xdf, false, _, 0xe0): return 1 // FNSTSW AX
        case (0xdd, true, 7, _): return 2 // FNSTSW m16
        case (0xd9, true, 7, _): return 3 // FNSTCW
        case (0xd9, true, 5, _): return 4 // FLDCW
        case (0xdb, false, _, 0xe2): return 5 // FNCLEX
        default: return nil
        }
    }

    /// The memory forms of the data instructions: (0 read or 1 write, operand bytes), bytes 0 if
    /// reserved (SDM vol. 2, tables ).
    private static func x87MemoryOperand(_ opcode: UInt8, _ member: Int) -> (UInt8, UInt8) {
        switch opcode {
        case 0xd8, 0xda: return (0, 4) // arithmetic and compare with m32fp / m32int
        case 0xdc: return (0, 8) // m64fp
        case 0xde: return (0, 2) // m16int
        case 0xd9: return member == 0 ? (0, 4) : member == 2 || member == 3 ? (1, 4) : (0, 0)
        case 0xdb:
            switch member {
            case 0: return (0, 4) // FILD m32int
            case 1...3: return (1, 4) // FISTTP, FIST, FISTP m32int
            case 5: return (0, 10) // FLD m80fp
            case 7: return (1, 10) // FSTP m80fp
            default: return (0, 0)
            }
        case 0xdd: return member == 0 ? (0, 8) : (1...3).contains(member) ? (1, 8) : (0, 0)
        default: // 0xdf
            switch member {
            case 0: return (0, 2) // FILD m16int
            case 1...3: return (1, 2) // FISTTP, FIST, FISTP m16int
            case 4: return (0, 10) // FBLD
            case 5: return (0, 8) // FILD m64int
            case 6: return (1, 10) // FBSTP
            default: return (1, 8) // FISTP m64int
            }
        }
    }

    /// The documented register forms (SDM vol. 2, tables, "mod = 11B").
    private static func x87RegisterFormDefined(_ opcode: UInt8, _ modrm: UInt8) -> Bool {
        switch opcode {
        case 0xd8: return true
        case 0xd9:
            // FLD, FXCH, FNOP, FCHS, FABS, FTST, FXAM, the constants, F2XM1 ... FCOS.
            return modrm <= 0xd0 || [0xe0, 0xe1, 0xe4, 0xe5].contains(modrm) || (0xe8...0xee).contains(modrm) || modrm >= 0xf0
        case 0xda: return modrm <= 0xdf || modrm == 0xe9 // FCMOVcc, FUCOMPP
        case 0xdb: return modrm <= 0xdf || (0xe8...0xf7).contains(modrm) // FCMOVNcc, FUCOMI, FCOMI
        case 0xdc: return modrm <= 0xcf || modrm >= 0xe0
        case 0xdd: return modrm <= 0xc7 || (0xd0...0xef).contains(modrm) // FFREE, FST, FSTP, FUCOM, FUCOMP
        case 0xde: return modrm <= 0xcf || modrm == 0xd9 || modrm >= 0xe0
        default: return (0xe8...0xf7).contains(modrm) // DF: FUCOMIP, FCOMIP
        }
    }

}
