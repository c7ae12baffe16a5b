/// BT BTS BTR BTC, BSF BSR TZCNT LZCNT POPCNT, BSWAP, MOVBE (SDM vol. 2).
enum BitFamilies {
    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = []
        for (index, mnemonic) in ["bt", "bts", "btr", "btc"].enumerated() {
            specs.append(with(ModRMSpec("\(mnemonic) r/m{s}, r{s}") { _ in [0x0f, 0xa3 + UInt8(index * 8)] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.customize = { instruction, chosen, _ in bitStringInPage(&instruction, chosen.operands, chosen.size) }
            })
            specs.append(with(ModRMSpec("\(mnemonic) r/m{s}, imm8") { _ in [0x0f, 0xba] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.digit = 4 + index
                $0.immediateBytes = { _ in 1 }
            })
        }
        // BSF/BSR leave the destination undefined for a zero source (AMD documents it unchanged) and
        // CF OF SF AF PF undefined always: compared with the host like everything else.
        for (opcode, mnemonic) in [(UInt8(0xbc), "bsf"), (0xbd, "bsr")] {
            specs.append(with(ModRMSpec("\(mnemonic) r{s}, r/m{s}") { _ in [0x0f, opcode] }) {
                $0.sizes = OperandSize.wide(in:)
            })
        }
        for (opcode, mnemonic) in [(UInt8(0xbc), "tzcnt"), (0xbd, "lzcnt"), (0xb8, "popcnt")] {
            specs.append(with(ModRMSpec("\(mnemonic) r{s}, r/m{s}") { _ in [0x0f, opcode] }) {
                $0.prefixes = [0xf3]
                $0.sizes = OperandSize.wide(in:)
            })
        }
        specs.append(with(ModRMSpec("movbe r{s}, m{s}") { _ in [0x0f, 0x38, 0xf0] }) {
            $0.sizes = OperandSize.wide(in:)
            $0.memoryForms = [true]
        })
        specs.append(with(ModRMSpec("movbe m{s}, r{s}") { _ in [0x0f, 0x38, 0xf1] }) {
            $0.sizes = OperandSize.wide(in:)
            $0.memoryForms = [true]
        })
        return specs.flatMap(\.templates) + byteSwapTemplates
    }

    /// With a memory operand and a register bit offset, BT* address a bit string: the offset's
    /// upper bits move the access (SDM vol. 2, BT). Keeps the access inside the data page.
    static func bitStringInPage(_ instruction: inout Instruction, _ operands: ModRMOperands, _ size: OperandSize) {
        guard case .memory = operands.rmLocation else { return }
        instruction.form.rm = .data(offset: 2048)
        instruction.sequenceSafe = false
        let reg = operands.reg
        instruction.alsoPrepare { state, _, rng in
            let bitOffset = Int64(rng.below(16000)) - 8000
            state.gpr[reg] = (state.gpr[reg] & ~size.mask) | (UInt64(bitPattern: bitOffset) & size.mask)
        }
    }

    /// BSWAP r32/r64 (0F C8+r); with a 16-bit operand the result is undefined.
    static var byteSwapTemplates: [InstructionTemplate] {
        [OperandSize.word, .dword, .qword].map { size in
            let name = "bswap r\(size.suffix)"
            return InstructionTemplate(name, modes: size == .qword ? [.long64] : ExecutionMode.allCases) { rng, mode in
                let register = rng.register(mode)
                var form = InstructionForm(opcode: [0x0f, 0xc8], opcodeRegister: register)
                form.select(size)
                return Instruction(name: name, form: form)
            }
        }
    }
}
