/// Shifts and rotates, including RCL/RCR and SHLD/SHRD, with counts on every boundary: 0, 1,
/// width-1, width, width+1 and the 5/6-bit count masking (SDM vol. 2, SAL/SAR/SHL/SHR, RCL/RCR/
/// ROL/ROR, SHLD, SHRD).
enum ShiftFamilies {
    static let names = ["rol", "ror", "rcl", "rcr", "shl", "shr", "sal", "sar"]
    static let interestingCounts: [UInt64] = [0, 1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 255]

    enum CountSource { case immediate, one, cl }

    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = []
        for (digit, mnemonic) in names.enumerated() {
            for source in [CountSource.immediate, .one, .cl] {
                let operandText = source == .immediate ? "imm8" : source == .one ? "1" : "cl"
                var spec = ModRMSpec("\(mnemonic) r/m{s}, \(operandText)") { size in
                    switch source {
                    case .immediate: return [size == .byte ? 0xc0 : 0xc1]
                    case .one: return [size == .byte ? 0xd0 : 0xd1]
                    case .cl: return [size == .byte ? 0xd2 : 0xd3]
                    }
                }
                spec.digit = digit
                spec.customize = { instruction, chosen, rng in
                    shiftCount(&instruction, source: source, rng: &rng)
                }
                specs.append(spec)
            }
        }
        for (opcode, mnemonic) in [(UInt8(0xa4), "shld"), (0xac, "shrd")] {
            for source in [CountSource.immediate, .cl] {
                var spec = ModRMSpec("\(mnemonic) r/m{s}, r{s}, \(source == .cl ? "cl" : "imm8")") { _ in
                    [0x0f, source == .cl ? opcode + 1 : opcode]
                }
                spec.sizes = OperandSize.wide(in:)
                spec.customize = { instruction, chosen, rng in
                    shiftCount(&instruction, source: source, rng: &rng)
                }
                specs.append(spec)
            }
        }
        return specs.flatMap(\.templates)
    }

    /// Sets the count under test: the immediate byte, or CL.
    static func shiftCount(_ instruction: inout Instruction, source: CountSource, rng: inout SeededGenerator) {
        switch source {
        case .immediate:
            instruction.form.immediate = [UInt8(truncatingIfNeeded: rng.chance(0.8) ? rng.pick(interestingCounts) : rng.next())]
        case .one:
            break
        case .cl:
            instruction.alsoPrepare { state, _, rng in
                if rng.chance(0.8) { state.gpr[1] = (state.gpr[1] & ~0xff) | rng.pick(interestingCounts) }
            }
        }
    }
}
