/// MOVS STOS LODS SCAS CMPS with no prefix, REP/REPE and REPNE, at every element size, DF clear
/// and set (SDM vol. 2, MOVS/STOS/LODS/SCAS/CMPS and REP/REPE/REPNE).
enum StringFamilies {
    static let operations: [(opcode: UInt8, mnemonic: String, compares: Bool)] = [
        (0xa4, "movs", false), (0xaa, "stos", false), (0xac, "lods", false), (0xae, "scas", true), (0xa6, "cmps", true),
    ]

    static var templates: [InstructionTemplate] {
        var result: [InstructionTemplate] = []
        for operation in operations {
            let repeats: [(UInt8?, String)] = operation.compares ? [(nil, ""), (0xf3, "repe "), (0xf2, "repne ")] : [(nil, ""), (0xf3, "rep ")]
            for (prefix, prefixName) in repeats {
                for size in OperandSize.allCases {
                    let name = "\(prefixName)\(operation.mnemonic)\(size.suffix)"
                    result.append(InstructionTemplate(name, modes: size == .qword ? [.long64] : ExecutionMode.allCases) { _, _ in
                        var form = InstructionForm(opcode: [operation.opcode + (size == .byte ? 0 : 1)])
                        form.select(size)
                        if let prefix { form.prefixes.append(prefix) }
                        var instruction = Instruction(name: name, form: form)
                        instruction.sequenceSafe = false
                        instruction.prepare = { state, data, rng in pointersInPage(&state, &data, &rng, size) }
                        return instruction
                    })
                }
            }
        }
        return result
    }

    /// RSI and RDI inside the data page with room for the whole count in the direction DF
    /// chooses, a small count in RCX, and often equal source and destination runs so the
    /// REPE/REPNE conditions end the loop at different places.
    static func pointersInPage(_ state: inout MachineState, _ data: inout [UInt8], _ rng: inout SeededGenerator, _ size: OperandSize) {
        let count = rng.below(13)
        let span = 13 * size.bytes
        let down = state.rflags & Flag.df != 0
        let source = down ? 4000 - rng.below(1500) : 96 + rng.below(1500)
        let destination = down ? 4000 - rng.below(1500) : 96 + rng.below(1500)
        state.gpr[1] = UInt64(count)
        state.gpr[6] = DifferentialLayout.dataAddress + UInt64(source)
        state.gpr[7] = DifferentialLayout.dataAddress + UInt64(destination)
        if rng.chance(0.5) {
            let first = down ? source - span : source
            let target = down ? destination - span : destination
            for index in 0..<span { data[target + index] = data[first + index] }
            if rng.chance(0.5) { data[target + rng.below(span)] ^= 1 }
        }
        if rng.chance(0.3) {
            // SCAS looks for the accumulator: plant it at the destination.
            let value = OperandLocation.memory(offset: destination).read(size, state, data)
            OperandLocation.register(0).plant(value, size, &state, &data)
        }
    }
}

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
