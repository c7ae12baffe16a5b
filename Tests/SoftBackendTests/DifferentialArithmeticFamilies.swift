/// ADD OR ADC SBB AND SUB XOR CMP, TEST, INC DEC NEG NOT (SDM vol. 2, chapters 3-4). The logical
/// operations leave AF undefined; AMD and Intel processors clear it, as the Soft CPU does.
enum ArithmeticFamilies {
    static let aluNames = ["add", "or", "adc", "sbb", "and", "sub", "xor", "cmp"]

    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = []
        for (operation, mnemonic) in aluNames.enumerated() {
            let base = UInt8(operation * 8)
            let forms: [ModRMSpec] = [
                ModRMSpec("\(mnemonic) r/m{s}, r{s}") { $0 == .byte ? [base] : [base + 1] },
                ModRMSpec("\(mnemonic) r{s}, r/m{s}") { $0 == .byte ? [base + 2] : [base + 3] },
                with(ModRMSpec("\(mnemonic) r/m{s}, imm") { $0 == .byte ? [0x80] : [0x81] }) {
                    $0.digit = operation
                    $0.immediateBytes = { min($0.bytes, 4) }
                },
                with(ModRMSpec("\(mnemonic) r/m{s}, imm8") { _ in [0x83] }) {
                    $0.digit = operation
                    $0.sizes = OperandSize.wide(in:)
                    $0.immediateBytes = { _ in 1 }
                },
            ]
            specs += forms
        }
        specs += [
            ModRMSpec("test r/m{s}, r{s}") { $0 == .byte ? [0x84] : [0x85] },
            with(ModRMSpec("test r/m{s}, imm") { $0 == .byte ? [0xf6] : [0xf7] }) {
                $0.digit = 0
                $0.immediateBytes = { min($0.bytes, 4) }
            },
            with(ModRMSpec("inc r/m{s}") { $0 == .byte ? [0xfe] : [0xff] }) { $0.digit = 0 },
            with(ModRMSpec("dec r/m{s}") { $0 == .byte ? [0xfe] : [0xff] }) { $0.digit = 1 },
            with(ModRMSpec("not r/m{s}") { $0 == .byte ? [0xf6] : [0xf7] }) { $0.digit = 2 },
            with(ModRMSpec("neg r/m{s}") { $0 == .byte ? [0xf6] : [0xf7] }) { $0.digit = 3 },
            with(ModRMSpec("lock add r/m{s}, r{s}") { $0 == .byte ? [0x00] : [0x01] }) { $0.prefixes = [0xf0] },
            with(ModRMSpec("lock sub r/m{s}, imm8") { _ in [0x83] }) {
                $0.prefixes = [0xf0]
                $0.digit = 5
                $0.sizes = OperandSize.wide(in:)
                $0.immediateBytes = { _ in 1 }
            },
        ]
        return specs.flatMap(\.templates) + accumulatorTemplates + shortIncDecTemplates
    }

    /// op AL/AX/EAX/RAX, imm: opcodes 04+8n / 05+8n without ModRM.
    static var accumulatorTemplates: [InstructionTemplate] {
        var result: [InstructionTemplate] = []
        for (operation, mnemonic) in aluNames.enumerated() {
            for size in OperandSize.allCases {
                let name = "\(mnemonic) acc\(size.suffix), imm"
                result.append(InstructionTemplate(name, modes: size == .qword ? [.long64] : ExecutionMode.allCases) { rng, _ in
                    var form = InstructionForm(opcode: [UInt8(operation * 8) + (size == .byte ? 4 : 5)])
                    form.select(size)
                    form.immediate = littleEndian(rng.operand(size == .qword ? .dword : size), bytes: min(size.bytes, 4))
                    var instruction = Instruction(name: name, form: form)
                    instruction.prepare = { state, data, rng in OperandLocation.register(0).plant(rng.operand(size), size, &state, &data) }
                    return instruction
                })
            }
        }
        return result
    }

    /// INC/DEC r16/r32 as 40+r/48+r: one-byte forms that exist only outside 64-bit mode, where
    /// those bytes are REX prefixes (SDM vol. 2, 2.2.1).
    static var shortIncDecTemplates: [InstructionTemplate] {
        [(0x40, "inc"), (0x48, "dec")].flatMap { opcode, mnemonic in
            [OperandSize.word, .dword].map { size in
                InstructionTemplate("\(mnemonic) r\(size.suffix) (short form)", modes: [.protected32]) { rng, mode in
                    var form = InstructionForm(opcode: [UInt8(opcode)], opcodeRegister: rng.register(mode))
                    form.select(size)
                    return Instruction(name: "\(mnemonic) r\(size.suffix) (short form)", form: form)
                }
            }
        }
    }
}
