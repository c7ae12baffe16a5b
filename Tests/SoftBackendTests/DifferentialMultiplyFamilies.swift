/// MUL, IMUL in its one-, two- and three-operand forms, DIV and IDIV including the divide error
/// (SDM vol. 2, MUL/IMUL/DIV/IDIV): multiplies leave SF ZF AF PF undefined, divides all six.
enum MultiplyFamilies {

    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = []
        for (digit, mnemonic) in [(4, "mul"), (5, "imul"), (6, "div"), (7, "idiv")] {
            var spec = ModRMSpec("\(mnemonic) r/m{s}") { $0 == .byte ? [0xf6] : [0xf7] }
            spec.digit = digit
            if digit >= 6 { spec.customize = { instruction, chosen, _ in dividendFitsSometimes(&instruction, chosen.size, signed: digit == 7) } }
            specs.append(spec)
        }
        specs += [
            with(ModRMSpec("imul r{s}, r/m{s}") { _ in [0x0f, 0xaf] }) {
                $0.sizes = OperandSize.wide(in:)
            },
            with(ModRMSpec("imul r{s}, r/m{s}, imm") { _ in [0x69] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.immediateBytes = { min($0.bytes, 4) }
            },
            with(ModRMSpec("imul r{s}, r/m{s}, imm8") { _ in [0x6b] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.immediateBytes = { _ in 1 }
            },
        ]
        return specs.flatMap(\.templates)
    }

    /// Half the time makes the high half of the dividend (AH, DX, EDX, RDX) small enough, or the
    /// sign extension of the low half, so the quotient fits and the divide completes instead of
    /// raising #DE.
    static func dividendFitsSometimes(_ instruction: inout Instruction, _ size: OperandSize, signed: Bool) {
        instruction.alsoPrepare { state, _, rng in
            guard rng.chance(0.5) else { return }
            if size == .byte {
                let low = state.gpr[0] & 0xff
                let high: UInt64 = signed ? (low & 0x80 != 0 ? 0xff : 0) : 0
                state.gpr[0] = (state.gpr[0] & ~0xff00) | high << 8
                return
            }
            let low = state.gpr[0] & size.mask
            let high: UInt64 = signed ? (low & size.signBit != 0 ? size.mask : 0) : 0
            state.gpr[2] = (state.gpr[2] & ~size.mask) | high
        }
    }
}
