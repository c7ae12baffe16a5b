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
