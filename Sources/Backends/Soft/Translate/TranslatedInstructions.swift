/// One guest instruction as the same host instruction on host registers (SDM vol. 2, appendix A for
/// the opcodes). Anything not listed here ends the translation and runs in the interpreter.
extension BlockTranslator {
    /// Emits `ins` (at `rip`, followed by `next`); false if it is not translatable.
    mutating func translate(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        guard !ins.isLocked else { return false }
        switch ins.op {
        case .sseMoveLoad, .sseMoveStore, .sseMoveRegReg, .sseBinary, .sseShuffle, .sseShiftImm,
             .movdToXMM, .movqToXMM, .movdFromXMM, .movqStore, .pmovmskb:
            return sse(ins, rip: rip, next: next) // SSE operand sizes are their own (16 for XMM)
        default:
            break
        }
        guard [1, 2, 4, 8].contains(ins.size) else { return false }
        switch ins.op.generic {
        case .nop:
            return true
        case .aluRegReg, .aluRegImm, .aluRegMem, .aluMemReg, .aluMemImm:
            return alu(ins, rip: rip, next: next)
        case .movRegReg, .movRegMem, .movMemReg, .movRegImm, .movMemImm, .lea, .xchgRegReg:
            return move(ins, rip: rip, next: next)
        case .movzx, .movsx, .movsxd:
            return extend(ins, rip: rip, next: next)
        case .unaryReg, .unaryMem:
            let opcode: UInt32 = ins.sub < 2 ? (ins.size == 1 ? 0xfe : 0xff) : (ins.size == 1 ? 0xf6 : 0xf7)
            guard let operand = destination(ins, rip: rip, next: next, write: true) else { return false }
            assembler.instruction(opcode, size: ins.size, reg: ins.sub, operand)
            return true
        case .shiftRegisterImmediate, .shift:
            return shift(ins, rip: rip, next: next)
        case .imulRegRM, .imulRegRMImm, .cmovcc, .bitScanForward, .bitScanReverse, .tzcnt, .lzcnt, .popcnt:
            return registerFromSource(ins, rip: rip, next: next)
        case .mulDiv:
            return multiplyIntoRDXRAX(ins, rip: rip, next: next)
        case .setcc:
            guard let operand = destination(ins, rip: rip, next: next, write: true) else { return false }
            assembler.instruction(0x900f | UInt32(ins.sub & 0xf) << 8, size: 1, reg: 0, operand)
            return true
        case .bitTestReg:
            // A register bit offset can address far beyond a memory operand: register forms only.
            guard !ins.isMemory, let offset = host(ins.reg), let operand = host(ins.rm) else { return false }
            assembler.instruction(0xa30f | UInt32(ins.sub) << 11, size: ins.size, reg: offset, .register(operand))
            return true
        case .bitTestImm:
            guard let operand = destination(ins, rip: rip, next: next, write: ins.sub != 0) else { return false }
            assembler.instruction(0xba0f, size: ins.size, reg: 4 + ins.sub, operand)
            assembler.immediate(ins.imm, size: 1)
            return true
        case .pushReg:
            // The slot is written before RSP moves, so a miss leaves RSP as it was (and PUSH RSP
            // stores the old value, as it must).
            let width = stackWidth
            guard ins.size == width, let value = host(ins.rm), let stackPointer = host(4),
                  let slot = stackSlot(offset: -Int32(width), size: width, write: true, rip: rip) else { return false }
            assembler.store(slot, value, size: width)
            assembler.instruction(0x8d, size: width, reg: stackPointer, .at(stackPointer, -Int32(width)))
            return true
        case .popReg:
            // Through R11, so that POP RSP ends with the value popped (SDM vol. 2, POP).
            let width = stackWidth
            guard ins.size == width, let target = host(ins.rm), let stackPointer = host(4),
                  let slot = stackSlot(offset: 0, size: width, write: false, rip: rip) else { return false }
            assembler.load(HostRegister.r11, slot, size: width)
            assembler.instruction(0x8d, size: width, reg: stackPointer, .at(stackPointer, Int32(width)))
            assembler.instruction(0x89, size: width, reg: HostRegister.r11, .register(target))
            return true
        case .bswap:
            guard ins.size >= 4, let register = host(ins.rm) else { return false }
            assembler.byteSwap(register, size: ins.size)
            return true
        default:
            return false
        }
    }

    /// ADD, OR, ADC, SBB, AND, SUB, XOR, CMP (opcode bits 5:3) and TEST (kind 8), in their five forms.
    private mutating func alu(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let kind = ins.sub, byte = ins.size == 1
        let readOnly = kind >= ALUKind.cmp
        switch ins.op.generic {
        case .aluRegReg, .aluMemReg:
            // r/m op= reg: opcodes 00/01 + kind << 3, TEST 84/85.
            let opcode: UInt32 = kind == ALUKind.test ? (byte ? 0x84 : 0x85) : UInt32(kind) << 3 | (byte ? 0 : 1)
            guard let source = host(ins.reg),
                  let target = destination(ins, rip: rip, next: next, write: !readOnly) else { return false }
            assembler.instruction(opcode, size: ins.size, reg: source, target)
        case .aluRegMem:
            // reg op= r/m: 02/03 + kind << 3 (TEST has no such form).
            guard kind < ALUKind.test, let target = host(ins.reg),
                  let source = memory(ins, rip: rip, next: next, size: ins.size, write: false) else { return false }
            assembler.instruction(UInt32(kind) << 3 | (byte ? 2 : 3), size: ins.size, reg: target, source)
        default:
            // r/m op= imm: 80/81 /kind, TEST F6/F7 /0; the immediate is at most 32 bits, sign-extended.
            guard let target = destination(ins, rip: rip, next: next, write: !readOnly) else { return false }
            if kind == ALUKind.test {
                assembler.instruction(byte ? 0xf6 : 0xf7, size: ins.size, reg: 0, target)
            } else {
                assembler.instruction(byte ? 0x80 : 0x81, size: ins.size, reg: kind, target)
            }
            assembler.immediate(ins.imm, size: min(ins.size, 4))
        }
        return true
    }

    /// MOV in its five forms, LEA and XCHG of two registers.
    private mutating func move(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let byte = ins.size == 1
        switch ins.op {
        case .movRegReg, .movMemReg, .xchgRegReg:
            let opcode: UInt32 = ins.op == .xchgRegReg ? (byte ? 0x86 : 0x87) : (byte ? 0x88 : 0x89)
            guard let source = host(ins.reg),
                  let target = destination(ins, rip: rip, next: next, write: true) else { return false }
            assembler.instruction(opcode, size: ins.size, reg: source, target)
        case .movRegMem:
            guard let target = host(ins.reg),
                  let source = memory(ins, rip: rip, next: next, size: ins.size, write: false) else { return false }
            assembler.instruction(byte ? 0x8a : 0x8b, size: ins.size, reg: target, source)
        case .movRegImm:
            guard let target = host(ins.rm) else { return false }
            assembler.move(target, immediate: ins.imm, size: ins.size)
        case .movMemImm:
            guard let target = memory(ins, rip: rip, next: next, size: ins.size, write: true) else { return false }
            assembler.instruction(byte ? 0xc6 : 0xc7, size: ins.size, reg: 0, target)
            assembler.immediate(ins.imm, size: min(ins.size, 4))
        default: // LEA
            guard !byte, let target = host(ins.reg) else { return false }
            return effectiveAddress(ins, next: next, into: target, size: ins.size)
        }
        return true
    }

    /// MOVZX and MOVSX (source size in `sub`), MOVSXD.
    private mutating func extend(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let opcode: UInt32, sourceSize: UInt8
        switch ins.op.generic {
        case .movzx: (opcode, sourceSize) = (ins.sub == 1 ? 0xb60f : 0xb70f, ins.sub)
        case .movsx: (opcode, sourceSize) = (ins.sub == 1 ? 0xbe0f : 0xbf0f, ins.sub)
        default:
            guard ins.size == 8 else { return false } // MOVSXD to 16 or 32 bits is a plain move
            (opcode, sourceSize) = (0x63, 4)
        }
        guard ins.size > sourceSize, let target = host(ins.reg),
              let source = source(ins, rip: rip, next: next, size: sourceSize) else { return false }
        assembler.instruction(opcode, size: ins.size, reg: target, source, byteRegisters: sourceSize == 1)
        return true
    }

    /// Shifts and rotates by an immediate, or by CL on a register.
    private mutating func shift(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let byte = ins.size == 1
        if ins.op == .shift && ins.imm2 == DecodedInstruction.countInCL {
            // The count goes through host CL, which memory operands need for the page offset.
            guard !ins.isMemory, let count = host(1), let target = host(ins.rm) else { return false }
            assembler.instruction(0x89, size: 4, reg: count, .register(HostRegister.rcx))
            assembler.instruction(byte ? 0xd2 : 0xd3, size: ins.size, reg: ins.sub, .register(target))
            return true
        }
        guard let target = destination(ins, rip: rip, next: next, write: true) else { return false }
        assembler.instruction(byte ? 0xc0 : 0xc1, size: ins.size, reg: ins.sub, target)
        assembler.immediate(ins.imm, size: 1)
        return true
    }

    /// reg = f(r/m): IMUL (two and three operands), CMOVcc, BSF/BSR, TZCNT/LZCNT/POPCNT.
    private mutating func registerFromSource(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        guard ins.size > 1 else { return false }
        var legacy: UInt8?
        let opcode: UInt32
        switch ins.op {
        case .imulRegRM: opcode = 0xaf0f
        case .imulRegRMImm: opcode = 0x69
        case .cmovcc: opcode = 0x400f | UInt32(ins.sub & 0xf) << 8
        case .bitScanForward: opcode = 0xbc0f
        case .bitScanReverse: opcode = 0xbd0f
        case .tzcnt: (opcode, legacy) = (0xbc0f, 0xf3)
        case .lzcnt: (opcode, legacy) = (0xbd0f, 0xf3)
        default: (opcode, legacy) = (0xb80f, 0xf3) // POPCNT
        }
        guard let target = host(ins.reg), let source = source(ins, rip: rip, next: next, size: ins.size) else {
            return false
        }
        assembler.instruction(opcode, size: ins.size, reg: target, source, legacy: legacy)
        if ins.op == .imulRegRMImm { assembler.immediate(ins.imm, size: min(ins.size, 4)) }
        return true
    }

    /// MUL and IMUL r/m32/64 (F7 /4, /5): EDX:EAX or RDX:RAX = RAX times the operand, run in the
    /// host's RAX and RDX (scratch in translated code) and copied back. DIV and IDIV stay interpreted
    /// (their #DE), as do the 8- and 16-bit forms (their partial register writes).
    private mutating func multiplyIntoRDXRAX(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let rax = HostRegister.rax, rdx = HostRegister.rdx
        guard ins.sub == 4 || ins.sub == 5, ins.size >= 4, let low = host(0), let high = host(2),
              let source = self.source(ins, rip: rip, next: next, size: ins.size) else { return false }
        // A memory operand is [RDX + RCX]: RDX is written only by the multiply, after it reads it.
        assembler.instruction(0x89, size: 8, reg: low, .register(rax))
        assembler.instruction(0xf7, size: ins.size, reg: ins.sub, source)
        assembler.instruction(0x89, size: 8, reg: rax, .register(low))
        assembler.instruction(0x89, size: 8, reg: rdx, .register(high))
        return true
    }

    // MARK: operands

    /// The r/m operand as a destination: the register `rm`, or memory checked for writing.
    private mutating func destination(_ ins: DecodedInstruction, rip: UInt64, next: UInt64, write: Bool) -> HostOperand? {
        guard ins.isMemory else { return host(ins.rm).map { .register($0) } }
        return memory(ins, rip: rip, next: next, size: ins.size, write: write)
    }

    /// The r/m operand as a source of `size` bytes.
    private mutating func source(_ ins: DecodedInstruction, rip: UInt64, next: UInt64, size: UInt8) -> HostOperand? {
        guard ins.isMemory else { return host(ins.rm).map { .register($0) } }
        return memory(ins, rip: rip, next: next, size: size, write: false)
    }
}
