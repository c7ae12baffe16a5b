/// The catalog's sequence forms of one mode sorted by what the block translator does with them
/// (Sources/Backends/Soft/Translate/TranslatedInstructions.swift): forms it turns into host code, and
/// forms that it leaves to the interpreter, whose results (undefined ones included) come from the host
/// as well, so a block mixing both ends in the host's state.
enum TranslationPools {
    static let aluMnemonics: Set<String> = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp", "test",
                                            "inc", "dec", "not", "neg"]
    static let moveMnemonics: Set<String> = ["mov", "movzx", "movsx", "movsxd", "lea"]
    static let shiftMnemonics: Set<String> = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"]
    static let bitScanMnemonics: Set<String> = ["bsf", "bsr", "tzcnt", "lzcnt", "popcnt"]
    static let bitTestMnemonics: Set<String> = ["bt", "bts", "btr", "btc"]
    /// SSE data, integer and logic forms (TranslatedSSE.swift); PEXTRW, PINSRW and the floating-point
    /// forms stay interpreted.
    static let sseMnemonics: Set<String> = [
        "pxor", "por", "pand", "pandn", "pcmpeqb", "pcmpeqw", "pcmpeqd", "pcmpgtb", "pcmpgtw", "pcmpgtd",
        "punpcklbw", "punpcklwd", "punpckldq", "punpcklqdq", "punpckhbw", "punpckhwd", "punpckhdq", "punpckhqdq",
        "paddb", "paddw", "paddd", "paddq", "psubb", "psubw", "psubd", "psubq", "paddusb", "paddusw", "paddsb", "paddsw",
        "psubusb", "psubusw", "psubsb", "psubsw", "pmullw", "pmulhw", "pmulhuw", "pmuludq", "pmaddwd", "pmaxub", "pminub",
        "pmaxsw", "pminsw", "pavgb", "pavgw", "psadbw", "packsswb", "packuswb", "packssdw", "psllw", "pslld", "psllq",
        "psrlw", "psrld", "psrlq", "psraw", "psrad", "psrldq", "pslldq", "movdqa", "movdqu", "movq", "movd",
        "xorps", "andps", "andnps", "orps", "movaps", "movups", "pshufd", "pshuflw", "pshufhw", "shufps", "pmovmskb",
    ]
    /// Never translated (or, for MUL and IMUL r/m, only at 32 and 64 bits): multiplies into RDX:RAX,
    /// sign extensions of the accumulator, exchange-and-add,
    /// compare-and-exchange, locked read-modify-writes, double shifts and BSWAP r16 (whose results
    /// past the width the SDM leaves undefined).
    static let interpretedPrefixes = ["mul r/m", "imul r/m", "cbw/", "cwd/", "xadd r/m", "cmpxchg r/m",
                                      "lock add r/m", "lock sub r/m", "lock xadd m", "shld r/m", "shrd r/m",
                                      "bswap r16"]

    /// Per mode, the translatable forms and those left to the interpreter.
    static let byMode: [ExecutionMode: (translatable: [InstructionTemplate], interpreted: [InstructionTemplate])] =
        Dictionary(uniqueKeysWithValues: ExecutionMode.allCases.map { mode in
            let all = InstructionCatalog.sequenceTemplates(for: mode)
            let translatable = all.filter { isTranslatable($0.name) }
                + (accumulatorForms + constantAddressForms).filter { $0.modes.contains(mode) }
            // LOCK with a register operand is #UD (SDM vol. 2, LOCK): those forms are left out.
            let interpreted = all.filter { template in
                interpretedPrefixes.contains { template.name.hasPrefix($0) }
                    && !(template.name.hasPrefix("lock") && template.name.hasSuffix("[reg]"))
            }
            return (mode, (translatable, interpreted))
        })

    /// Accumulator forms the catalog lacks and the decoder turns into ones the translator takes: TEST
    /// AL/AX/EAX/RAX, imm (A8/A9, an ALU-with-immediate form) and XCHG with the accumulator (90+r, a
    /// register exchange; 90 alone is NOP unless REX.B names R8).
    static var accumulatorForms: [InstructionTemplate] {
        OperandSize.allCases.flatMap { size -> [InstructionTemplate] in
            let modes = size == .qword ? [ExecutionMode.long64] : ExecutionMode.allCases
            let test = InstructionTemplate("test acc\(size.suffix), imm", modes: modes) { rng, _ in
                var form = InstructionForm(opcode: [size == .byte ? 0xa8 : 0xa9])
                form.select(size)
                form.immediate = littleEndian(rng.operand(size == .qword ? .dword : size), bytes: min(size.bytes, 4))
                return Instruction(name: "test acc\(size.suffix), imm", form: form)
            }
            guard size != .byte else { return [test] }
            let exchange = InstructionTemplate("xchg acc\(size.suffix), r\(size.suffix)", modes: modes) { rng, mode in
                var form = InstructionForm(opcode: [0x90], opcodeRegister: rng.register(mode))
                form.select(size)
                return Instruction(name: "xchg acc\(size.suffix), r\(size.suffix)", form: form)
            }
            return [test, exchange]
        }
    }

    /// LEA of an address with no register in it, which the translator computes while translating:
    /// RIP-relative (ModRM mod 00 r/m 101) or an absolute disp32 (SIB with no base and no index), with
    /// 64- or 32-bit addressing (0x67 truncates, SDM vol. 2, 2.2.1.6 and LEA). The catalog's LEA always
    /// has a base register.
    static var constantAddressForms: [InstructionTemplate] {
        [OperandSize.word, .dword, .qword].flatMap { size in
            [false, true].flatMap { ripRelative in
                [false, true].map { address32 in
                    let name = "lea r\(size.suffix), [\(ripRelative ? "rip + " : "")disp32]" + (address32 ? " (addr32)" : "")
                    return InstructionTemplate(name, modes: [.long64]) { rng, mode in
                        let register = rng.register(mode)
                        let displacement = rng.pick([0, 1, 0x7fff_ffff, 0x8000_0000, 0xffff_fff0, rng.next() & 0xffff_ffff])
                        let modRM = UInt8((register & 7) << 3) | (ripRelative ? 5 : 4)
                        let addressing: [UInt8] = ripRelative ? [modRM] : [modRM, 0x25]
                        var form = InstructionForm(prefixes: address32 ? [0x67] : [], opcode: [0x8d] + addressing + littleEndian(displacement, bytes: 4),
                                                   reg: register)
                        form.select(size)
                        return Instruction(name: name, form: form)
                    }
                }
            }
        }
    }

    /// Whether a form with a memory operand only reads it: the register is the destination, or the
    /// operation writes nothing back (CMP, TEST, BT).
    static func readsMemoryOnly(_ name: String) -> Bool {
        let parts = name.split(separator: " ")
        guard parts.count > 1 else { return false }
        return ["cmp", "test", "bt"].contains(String(parts[0])) || (parts[1].hasPrefix("r") && !parts[1].hasPrefix("r/m"))
    }

    /// Whether the translator emits host code for the form (byte forms naming AH-BH aside, which it
    /// leaves to the interpreter at run time).
    static func isTranslatable(_ name: String) -> Bool {
        let mnemonic = String(name.prefix { $0 != " " })
        let memory = name.hasSuffix("[mem]")
        if aluMnemonics.contains(mnemonic) || moveMnemonics.contains(mnemonic) || bitScanMnemonics.contains(mnemonic) {
            return true
        }
        if shiftMnemonics.contains(mnemonic) { return !(memory && name.contains(", cl")) }
        if bitTestMnemonics.contains(mnemonic) { return name.contains("imm8") || !memory }
        if mnemonic == "xchg" { return !memory } // with memory it is locked (SDM vol. 2, XCHG)
        if mnemonic == "imul" { return name.hasPrefix("imul r") && !name.hasPrefix("imul r/m") }
        if mnemonic == "bswap" { return !name.hasSuffix("16") }
        if sseMnemonics.contains(mnemonic) { return !name.contains("misaligned") }
        return mnemonic.hasPrefix("cmov") || mnemonic.hasPrefix("set")
    }
}
