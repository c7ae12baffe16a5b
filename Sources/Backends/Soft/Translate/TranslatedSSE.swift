/// SSE data movement, integer and logic instructions in translated code: the guest's instruction
/// run by the host's SSE unit on its XMM0 and XMM1, loaded from and stored back to the guest's XMM
/// registers in `CPUCore.xmm` (R11 holds their address, from `NativeFrame.xmmRegisters`). None of
/// them reads or writes RFLAGS or MXCSR (SDM vol. 2, each instruction's "Flags Affected" and "SIMD
/// Floating-Point Exceptions: None"), so the guest's flags stay live in the host's; floating-point
/// SSE stays in the interpreter, which runs it under the guest's MXCSR (FPU-SSE/SSEHostExecution.swift).
/// The C library's string and memory functions are made of these.
extension BlockTranslator {
    private static let scratch: UInt8 = 0, second: UInt8 = 1

    /// Emits `ins`; false if it is not translatable (SSE not usable now, or a form left out).
    mutating func sse(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        guard sseUsable else { return false }
        let translated: Bool
        switch ins.op {
        case .sseMoveLoad, .sseMoveStore, .sseMoveRegReg:
            translated = move128(ins, rip: rip, next: next)
        case .sseBinary:
            guard Int(ins.sub) < Self.binaryOpcodes.count else { return false }
            translated = binary(Self.binaryOpcodes[Int(ins.sub)], legacy: 0x66, ins, rip: rip, next: next)
        case .sseShuffle:
            // PSHUFD (66), PSHUFLW (F2), PSHUFHW (F3) 0F 70; SHUFPS 0F C6 (no prefix).
            let forms: [(opcode: UInt32, legacy: UInt8?)] = [(0x700f, 0x66), (0x700f, 0xf2), (0x700f, 0xf3), (0xc60f, nil)]
            guard Int(ins.sub) < forms.count else { return false }
            translated = binary(forms[Int(ins.sub)].opcode, legacy: forms[Int(ins.sub)].legacy, ins, rip: rip, next: next,
                                immediate: UInt8(truncatingIfNeeded: ins.imm))
        case .sseShiftImm:
            // 66 0F 71-73 /member ib on the register in ModRM.rm (`sub` = (opcode - 71h) * 8 + member).
            loadBase()
            load(Self.scratch, ins.rm)
            assembler.instruction(0x0f | (0x71 + UInt32(ins.sub >> 3)) << 8, size: 4, reg: ins.sub & 7,
                                  .register(Self.scratch), legacy: 0x66)
            assembler.immediate(ins.imm, size: 1)
            store(ins.rm, Self.scratch)
            translated = true
        case .movdToXMM, .movqToXMM:
            translated = loadLow(ins, rip: rip, next: next)
        case .movdFromXMM, .movqStore:
            translated = storeLow(ins, rip: rip, next: next)
        case .pmovmskb:
            guard let target = host(ins.reg) else { return false }
            loadBase()
            load(Self.scratch, ins.rm)
            assembler.instruction(0xd70f, size: 4, reg: target, .register(Self.scratch), legacy: 0x66)
            translated = true
        default:
            return false
        }
        if translated { assumed.insert(.sseUsable) }
        return translated
    }

    /// MOVDQA/MOVDQU/MOVAPS/MOVUPS in their three forms (`sub` 1: the aligned ones), through host
    /// MOVDQU: the alignment check is the translator's.
    private mutating func move128(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let alignment: UInt8 = ins.sub == 1 ? 16 : 1
        switch ins.op {
        case .sseMoveLoad:
            guard let source = memory(ins, rip: rip, next: next, size: 16, write: false, alignment: alignment) else { return false }
            loadBase()
            load(Self.scratch, source)
            store(ins.reg, Self.scratch)
        case .sseMoveStore:
            guard let target = memory(ins, rip: rip, next: next, size: 16, write: true, alignment: alignment) else { return false }
            loadBase()
            load(Self.scratch, ins.reg)
            assembler.instruction(0x7f0f, size: 4, reg: Self.scratch, target, legacy: 0xf3)
        default:
            loadBase()
            load(Self.scratch, ins.rm)
            store(ins.reg, Self.scratch)
        }
        return true
    }

    /// xmm(reg) = op(xmm(reg), xmm(rm) or an aligned m128[, imm8]).
    private mutating func binary(_ opcode: UInt32, legacy: UInt8?, _ ins: DecodedInstruction, rip: UInt64, next: UInt64,
                                 immediate: UInt8? = nil) -> Bool {
        var source = HostOperand.register(Self.second)
        if ins.isMemory {
            guard let operand = memory(ins, rip: rip, next: next, size: 16, write: false, alignment: 16) else { return false }
            source = operand
            loadBase()
        } else {
            loadBase()
            load(Self.second, ins.rm)
        }
        load(Self.scratch, ins.reg)
        assembler.instruction(opcode, size: 4, reg: Self.scratch, source, legacy: legacy)
        if let immediate { assembler.immediate(UInt64(immediate), size: 1) }
        store(ins.reg, Self.scratch)
        return true
    }

    /// MOVD/MOVQ xmm, r/m32/64 (66 [REX.W] 0F 6E) and MOVQ xmm, xmm/m64 (F3 0F 7E): the value in the low
    /// lane, the rest zero.
    private mutating func loadLow(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let fromGeneral = ins.op == .movdToXMM
        var source: HostOperand
        if ins.isMemory {
            guard let operand = memory(ins, rip: rip, next: next, size: ins.size, write: false) else { return false }
            source = operand
            loadBase()
        } else if fromGeneral {
            guard let register = host(ins.rm) else { return false }
            source = .register(register)
            loadBase()
        } else {
            loadBase()
            load(Self.second, ins.rm)
            source = .register(Self.second)
        }
        if fromGeneral {
            assembler.instruction(0x6e0f, size: ins.size == 8 ? 8 : 4, reg: Self.scratch, source, legacy: 0x66)
        } else {
            assembler.instruction(0x7e0f, size: 4, reg: Self.scratch, source, legacy: 0xf3)
        }
        store(ins.reg, Self.scratch)
        return true
    }

    /// MOVD/MOVQ r/m32/64, xmm (66 [REX.W] 0F 7E) and MOVQ xmm/m64, xmm (66 0F D6): the low lane out
    /// (into an XMM register: with the rest zero).
    private mutating func storeLow(_ ins: DecodedInstruction, rip: UInt64, next: UInt64) -> Bool {
        let toGeneral = ins.op == .movdFromXMM
        var target: HostOperand
        if ins.isMemory {
            guard let operand = memory(ins, rip: rip, next: next, size: ins.size, write: true) else { return false }
            target = operand
        } else if toGeneral {
            guard let register = host(ins.rm) else { return false }
            target = .register(register)
        } else {
            target = .register(Self.second)
        }
        loadBase()
        load(Self.scratch, ins.reg)
        if toGeneral {
            assembler.instruction(0x7e0f, size: ins.size == 8 ? 8 : 4, reg: Self.scratch, target, legacy: 0x66)
        } else {
            assembler.instruction(0xd60f, size: 4, reg: Self.scratch, target, legacy: 0x66)
            if !ins.isMemory { store(ins.rm, Self.second) }
        }
        return true
    }

    // MARK: the guest's XMM registers

    /// R11 = `CPUCore.xmm` (after any memory operand's TLB check, which uses R11).
    private mutating func loadBase() {
        assembler.load(HostRegister.r11, .at(Self.context, NativeFrame.xmmRegisters))
    }

    /// MOVDQU host `xmm`, guest XMM `register` (or a checked memory operand).
    private mutating func load(_ xmm: UInt8, _ register: UInt8) { load(xmm, Self.slot(register)) }

    private mutating func load(_ xmm: UInt8, _ source: HostOperand) {
        assembler.instruction(0x6f0f, size: 4, reg: xmm, source, legacy: 0xf3)
    }

    /// MOVDQU guest XMM `register`, host `xmm`.
    private mutating func store(_ register: UInt8, _ xmm: UInt8) {
        assembler.instruction(0x7f0f, size: 4, reg: xmm, Self.slot(register), legacy: 0xf3)
    }

    private static func slot(_ register: UInt8) -> HostOperand { .at(HostRegister.r11, Int32(register & 15) * 16) }

    /// The host opcode (after 66) of each `Decoder.SSEBinary` member, in its order: AND, ANDN, OR
    /// and XOR as PAND, PANDN, POR and PXOR, which compute the same 128 bits as ANDPS and the others.
    static let binaryOpcodes: [UInt32] = [
        0xfc0f, 0xfd0f, 0xfe0f, 0xd40f,             // PADDB W D Q
        0xf80f, 0xf90f, 0xfa0f, 0xfb0f,             // PSUBB W D Q
        0xda0f, 0xde0f,                             // PMINUB, PMAXUB
        0x740f, 0x750f, 0x760f,                     // PCMPEQB W D
        0x640f, 0x650f, 0x660f,                     // PCMPGTB W D
        0xdb0f, 0xdf0f, 0xeb0f, 0xef0f,             // PAND, PANDN, POR, PXOR
        0x600f, 0x610f, 0x620f, 0x6c0f,             // PUNPCKLBW WD DQ QDQ
        0x680f, 0x690f, 0x6a0f, 0x6d0f,             // PUNPCKHBW WD DQ QDQ
        0xdc0f, 0xdd0f, 0xec0f, 0xed0f,             // PADDUSB, PADDUSW, PADDSB, PADDSW
        0xd80f, 0xd90f, 0xe80f, 0xe90f,             // PSUBUSB, PSUBUSW, PSUBSB, PSUBSW
        0xd50f, 0xe50f, 0xe40f, 0xf40f, 0xf50f,     // PMULLW, PMULHW, PMULHUW, PMULUDQ, PMADDWD
        0xee0f, 0xea0f, 0xe00f, 0xe30f, 0xf60f,     // PMAXSW, PMINSW, PAVGB, PAVGW, PSADBW
        0x630f, 0x670f, 0x6b0f,                     // PACKSSWB, PACKUSWB, PACKSSDW
        0xf10f, 0xf20f, 0xf30f, 0xd10f, 0xd20f,     // PSLLW D Q, PSRLW D
        0xd30f, 0xe10f, 0xe20f,                     // PSRLQ, PSRAW, PSRAD
    ]
}
