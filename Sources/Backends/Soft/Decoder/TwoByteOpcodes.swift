/// The two-byte (0F xx) opcode map (SDM vol. 2, table A-3), integer and system part.
extension Decoder {
    mutating func decodeTwoByte(_ opcode: UInt8) throws(DecodeError) {
        switch opcode {
        case 0x00:
            ins.size = 2
            let memory = try readModRM()
            let ops: [Op] = [.sldt, .str, .lldt, .ltr, .verr, .verw]
            guard modrmReg < 6 else { return undefined() }
            ins.op = ops[Int(modrmReg)]
            if !memory && modrmReg < 2 { ins.size = operandSize() }
        case 0x01:
            try decodeGroup7()
        case 0x02, 0x03:
            ins.size = operandSize()
            try readModRM()
            ins.op = opcode == 0x02 ? .lar : .lsl
        case 0x05: ins.op = .syscall
        case 0x06: ins.op = .clts
        case 0x07: ins.op = .sysret; ins.size = rexW ? 8 : 4
        case 0x08, 0x09: ins.op = .wbinvd
        case 0x0b: ins.op = .ud2
        case 0x0d, 0x18...0x1f:
            // PREFETCHW and the hint-NOP space (0F 1F /0 is the multi-byte NOP).
            ins.size = operandSize()
            try readModRM()
            ins.op = .nop
        case 0x20...0x23:
            try readModRM()
            ins.size = mode == 8 ? 8 : 4
            ins.op = [.movFromCR, .movFromDR, .movToCR, .movToDR][Int(opcode & 3)]
            // MOV CR/DR always use the register form whatever mod says (SDM vol. 2, MOV-Move to/from Control Registers).
            ins.rm = (modrm & 7) | ((rex & 1) << 3)
            ins.prefixes &= ~DecodedInstruction.memoryOperand
            // LOCK MOV CR0 is AMD's alternative encoding of CR8 (AMD APM vol. 3, MOV CRn).
            if ins.prefixes & DecodedInstruction.lock != 0 && opcode & 1 == 0 { ins.reg |= 8 }
        case 0x30: ins.op = .wrmsr
        case 0x31: ins.op = .rdtsc
        case 0x32: ins.op = .rdmsr
        case 0x33: ins.op = .rdpmc
        case 0x34: ins.op = .sysenter
        case 0x35: ins.op = .sysexit; ins.size = rexW ? 8 : 4
        case 0x38:
            try decodeThreeByte38(try next())
        case 0x3a:
            let third = try next()
            ins.opcodeBytes = 0x0f3a00 | UInt32(third)
            try decodeSSE3A(third)
        case 0x40...0x4f:
            ins.size = operandSize()
            try readModRM()
            ins.op = .cmovcc; ins.sub = opcode & 0xf
        case 0x80...0x8f:
            ins.op = .jcc; ins.sub = opcode & 0xf; ins.size = operandSize(default64: true)
            ins.imm = try immediate(min(ins.size, 4))
        case 0x90...0x9f:
            ins.size = 1
            try readModRM(byteOperands: true)
            ins.op = .setcc; ins.sub = opcode & 0xf
        case 0xa0, 0xa8:
            ins.op = .pushSeg; ins.sub = UInt8(opcode == 0xa0 ? Segment.fs : Segment.gs)
            ins.size = operandSize(default64: true)
        case 0xa1, 0xa9:
            ins.op = .popSeg; ins.sub = UInt8(opcode == 0xa1 ? Segment.fs : Segment.gs)
            ins.size = operandSize(default64: true)
        case 0xa2: ins.op = .cpuid
        case 0xa3, 0xab, 0xb3, 0xbb:
            ins.size = operandSize()
            try readModRM()
            ins.op = .bitTestReg; ins.sub = (opcode >> 3) & 3
        case 0xa4, 0xa5, 0xac, 0xad:
            ins.size = operandSize()
            try readModRM()
            ins.op = .shiftDouble; ins.sub = opcode >= 0xac ? 1 : 0
            if opcode & 1 == 0 { ins.imm = UInt64(try next()) } else { ins.imm2 = DecodedInstruction.countInCL }
        case 0xae:
            try decodeGroup15()
        case 0xaf:
            ins.size = operandSize()
            try readModRM()
            ins.op = .imulRegRM
        case 0xb0, 0xb1:
            ins.size = opcode == 0xb0 ? 1 : operandSize()
            try readModRM(byteOperands: opcode == 0xb0)
            ins.op = .cmpxchg
        case 0xb2, 0xb4, 0xb5:
            ins.size = operandSize()
            guard try readModRM() else { return undefined() }
            ins.op = .loadFarPointer
            ins.sub = UInt8(opcode == 0xb2 ? Segment.ss : (opcode == 0xb4 ? Segment.fs : Segment.gs))
        case 0xb6, 0xb7, 0xbe, 0xbf:
            ins.size = operandSize()
            let sourceSize: UInt8 = opcode & 1 == 0 ? 1 : 2
            let memory = try readModRM()
            if sourceSize == 1 && !memory { ins.rm = byteRegister(ins.rm) }
            ins.op = opcode < 0xb8 ? .movzx : .movsx; ins.sub = sourceSize
        case 0xb8:
            guard repPrefix == 0xf3 else { return undefined() }
            ins.size = operandSize()
            try readModRM()
            ins.op = .popcnt
        case 0xba:
            ins.size = operandSize()
            try readModRM()
            guard modrmReg >= 4 else { return undefined() }
            ins.op = .bitTestImm; ins.sub = modrmReg - 4; ins.imm = UInt64(try next())
        case 0xbc, 0xbd:
            ins.size = operandSize()
            try readModRM()
            if repPrefix == 0xf3 {
                ins.op = opcode == 0xbc ? .tzcnt : .lzcnt
            } else {
                ins.op = opcode == 0xbc ? .bitScanForward : .bitScanReverse
            }
        case 0xc0, 0xc1:
            ins.size = opcode == 0xc0 ? 1 : operandSize()
            let memory = try readModRM(byteOperands: opcode == 0xc0)
            ins.op = memory ? .xaddMemReg : .xaddRegReg
        case 0xc7:
            ins.size = operandSize()
            let memory = try readModRM()
            guard memory, modrmReg == 1 else { return undefined() }
            ins.op = .cmpxchgWide; ins.size = rexW ? 16 : 8
        case 0xc8...0xcf:
            ins.op = .bswap; ins.size = operandSize(); ins.rm = (opcode & 7) | ((rex & 1) << 3)
        default:
            try decodeSSE(opcode)
        }
    }

    /// SGDT, SIDT, LGDT, LIDT, SMSW, LMSW, INVLPG and the register forms (SDM vol. 2, table A-6 group 7).
    private mutating func decodeGroup7() throws(DecodeError) {
        let memory = try readModRM()
        if memory {
            ins.size = operandSize()
            let ops: [Op] = [.sgdt, .sidt, .lgdt, .lidt, .smsw, .undefined, .lmsw, .invlpg]
            ins.op = ops[Int(modrmReg)]
            if ins.op == .smsw || ins.op == .lmsw { ins.size = 2 }
            return
        }
        switch modrm {
        case 0xc1, 0xd9: ins.op = .hypercall // VMCALL, VMMCALL
        case 0xd0: ins.op = .xgetbv
        case 0xd1: ins.op = .xsetbv
        case 0xf8:
            guard mode == 8 else { return undefined() }
            ins.op = .swapgs
        case 0xf9: ins.op = .rdtscp
        default:
            switch modrmReg {
            case 4: ins.op = .smsw; ins.size = operandSize()
            case 6: ins.op = .lmsw; ins.size = 2
            default: undefined()
            }
        }
    }

    /// FXSAVE, FXRSTOR, LDMXCSR, STMXCSR, XSAVE, XRSTOR, CLFLUSH and the fences (table A-6 group 15).
    private mutating func decodeGroup15() throws(DecodeError) {
        let memory = try readModRM()
        guard repPrefix == 0 && !operandSizeOverride else { return undefined() }
        if !memory {
            guard modrmReg >= 5 else { return undefined() }
            ins.op = .nop // LFENCE, MFENCE, SFENCE: accesses are already in program order here
            return
        }
        ins.size = rexW ? 8 : 4
        switch modrmReg {
        case 0: ins.op = .fxsave
        case 1: ins.op = .fxrstor
        case 2: ins.op = .ldmxcsr
        case 3: ins.op = .stmxcsr
        case 4: ins.op = .xsave
        case 5: ins.op = .xrstor
        case 7: ins.op = .nop // CLFLUSH: no caches to flush
        default: undefined()
        }
    }

    /// The 0F 38 map (SDM vol. 2, table A-4): MOVBE (no prefix, F0/F1), CRC32 (F2, F0/F1) and the
    /// 66-prefixed SSSE3/SSE4 xmm forms in `SSEOpcodes.swift`.
    private mutating func decodeThreeByte38(_ opcode: UInt8) throws(DecodeError) {
        ins.opcodeBytes = 0x0f3800 | UInt32(opcode)
        switch (opcode, repPrefix) {
        case (0xf0, 0), (0xf1, 0):
            ins.size = operandSize()
            guard try readModRM() else { return undefined() }
            ins.op = opcode == 0xf0 ? .movbeLoad : .movbeStore
        case (0xf0, 0xf2), (0xf1, 0xf2):
            // CRC32 r32/r64, r/m8 (F0) or r/m16/32/64 (F1): size is the source's; F2 is mandatory here.
            ins.prefixes &= ~(DecodedInstruction.repz | DecodedInstruction.repnz)
            ins.size = opcode == 0xf0 ? 1 : operandSize()
            try readModRM(byteOperands: opcode == 0xf0)
            ins.reg = modrmReg | ((rex & 4) << 1) // the destination is r32/r64 even for an r/m8 source
            ins.op = .crc32
        default:
            try decodeSSE38(opcode)
        }
    }
}
