/// PUSH POP CALL RET and Jcc: the stack pointer aims into the data page, branch targets land in
/// the INT3 filler after the code.
enum ControlFamilies {
    static var templates: [InstructionTemplate] {
        var result: [InstructionTemplate] = []
        for size in [OperandSize.word, .dword, .qword] {
            let modes: [ExecutionMode] = size == .qword ? [.long64] : size == .dword ? [.protected32] : ExecutionMode.allCases
            result.append(stackTemplate("push r\(size.suffix)", modes) { rng, mode in
                var form = InstructionForm(opcode: [0x50], opcodeRegister: rng.register(mode))
                if size == .word { form.prefixes = [0x66] }
                return form
            })
            result.append(stackTemplate("pop r\(size.suffix)", modes) { rng, mode in
                var form = InstructionForm(opcode: [0x58], opcodeRegister: rng.register(mode, excluding: [4]))
                if size == .word { form.prefixes = [0x66] }
                return form
            })
        }
        result.append(stackTemplate("push imm8", ExecutionMode.allCases) { rng, _ in
            InstructionForm(opcode: [0x6a], immediate: [UInt8(truncatingIfNeeded: rng.operand(.byte))])
        })
        result.append(stackTemplate("push imm32", ExecutionMode.allCases) { rng, _ in
            InstructionForm(opcode: [0x68], immediate: littleEndian(rng.operand(.dword), bytes: 4))
        })
        result.append(stackTemplate("call rel32", ExecutionMode.allCases) { rng, _ in
            InstructionForm(opcode: [0xe8], immediate: littleEndian(UInt64(rng.below(16)), bytes: 4))
        })
        result.append(stackTemplate("ret", ExecutionMode.allCases, returnAddress: true) { _, _ in InstructionForm(opcode: [0xc3]) })
        result.append(stackTemplate("ret imm16", ExecutionMode.allCases, returnAddress: true) { rng, _ in
            InstructionForm(opcode: [0xc2], immediate: littleEndian(UInt64(rng.below(64)), bytes: 2))
        })
        for (code, condition) in MoveFamilies.conditions.enumerated() {
            // A taken branch would land inside a following instruction: single instructions only.
            result.append(InstructionTemplate("j\(condition) rel8") { rng, _ in
                with(Instruction(name: "j\(condition) rel8", form: InstructionForm(opcode: [0x70 + UInt8(code)], immediate: [UInt8(rng.below(8))]))) {
                    $0.sequenceSafe = false
                }
            })
            result.append(InstructionTemplate("j\(condition) rel32") { rng, _ in
                with(Instruction(name: "j\(condition) rel32",
                                 form: InstructionForm(opcode: [0x0f, 0x80 + UInt8(code)], immediate: littleEndian(UInt64(rng.below(8)), bytes: 4)))) {
                    $0.sequenceSafe = false
                }
            })
        }
        return result
    }

    static func stackTemplate(_ name: String, _ modes: [ExecutionMode], returnAddress: Bool = false,
                              form: @escaping (inout SeededGenerator, ExecutionMode) -> InstructionForm) -> InstructionTemplate {
        InstructionTemplate(name, modes: modes) { rng, mode in
            var instruction = Instruction(name: name, form: form(&rng, mode))
            instruction.sequenceSafe = false
            instruction.prepare = { state, data, rng in
                let top = 2048 + 8 * rng.below(64)
                state.gpr[4] = DifferentialLayout.dataAddress + UInt64(top)
                guard returnAddress else { return }
                // RET pops a target in the INT3 filler after the instruction.
                let target = DifferentialLayout.codeAddress + 64 + UInt64(rng.below(64))
                OperandLocation.memory(offset: top).plant(target, mode == .long64 ? .qword : .dword, &state, &data)
            }
            return instruction
        }
    }
}
