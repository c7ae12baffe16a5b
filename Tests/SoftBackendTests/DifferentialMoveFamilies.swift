/// Data movement and condition-code consumers: MOV, MOVZX MOVSX MOVSXD, LEA, XCHG XADD CMPXCHG,
/// CBW/CWDE/CDQE and CWD/CDQ/CQO, CMOVcc, SETcc (SDM vol. 2).
enum MoveFamilies {
    static let conditions = ["o", "no", "b", "ae", "e", "ne", "be", "a", "s", "ns", "p", "np", "l", "ge", "le", "g"]

    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = [
            ModRMSpec("mov r/m{s}, r{s}") { $0 == .byte ? [0x88] : [0x89] },
            ModRMSpec("mov r{s}, r/m{s}") { $0 == .byte ? [0x8a] : [0x8b] },
            with(ModRMSpec("mov r/m{s}, imm") { $0 == .byte ? [0xc6] : [0xc7] }) {
                $0.digit = 0
                $0.immediateBytes = { min($0.bytes, 4) }
            },
            with(ModRMSpec("movzx r{s}, r/m8") { _ in [0x0f, 0xb6] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.rmSize = { _ in .byte }
            },
            with(ModRMSpec("movzx r{s}, r/m16") { _ in [0x0f, 0xb7] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.rmSize = { _ in .word }
            },
            with(ModRMSpec("movsx r{s}, r/m8") { _ in [0x0f, 0xbe] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.rmSize = { _ in .byte }
            },
            with(ModRMSpec("movsx r{s}, r/m16") { _ in [0x0f, 0xbf] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.rmSize = { _ in .word }
            },
            with(ModRMSpec("movsxd r64, r/m32") { _ in [0x63] }) {
                $0.sizes = { $0 == .long64 ? [.qword] : [] }
                $0.rmSize = { _ in .dword }
            },
            with(ModRMSpec("xchg r/m{s}, r{s}") { $0 == .byte ? [0x86] : [0x87] }) { _ in },
            with(ModRMSpec("xadd r/m{s}, r{s}") { $0 == .byte ? [0x0f, 0xc0] : [0x0f, 0xc1] }) { _ in },
            with(ModRMSpec("lock xadd m{s}, r{s}") { $0 == .byte ? [0x0f, 0xc0] : [0x0f, 0xc1] }) {
                $0.prefixes = [0xf0]
                $0.memoryForms = [true]
            },
            with(ModRMSpec("cmpxchg r/m{s}, r{s}") { $0 == .byte ? [0x0f, 0xb0] : [0x0f, 0xb1] }) {
                $0.customize = { instruction, chosen, _ in accumulatorMatchesSometimes(&instruction, chosen.operands, chosen.size) }
            },
            with(ModRMSpec("lea r{s}, m") { _ in [0x8d] }) {
                $0.sizes = OperandSize.wide(in:)
                $0.memoryForms = [true]
                $0.customize = { instruction, chosen, rng in randomAddressing(&instruction, chosen.mode, &rng) }
            },
        ]
        for (code, condition) in conditions.enumerated() {
            specs.append(with(ModRMSpec("cmov\(condition) r{s}, r/m{s}") { _ in [0x0f, 0x40 + UInt8(code)] }) {
                $0.sizes = OperandSize.wide(in:)
            })
            specs.append(with(ModRMSpec("set\(condition) r/m8") { _ in [0x0f, 0x90 + UInt8(code)] }) {
                $0.sizes = { _ in [.byte] }
                $0.selectsSize = false
                $0.digit = 0
            })
        }
        return specs.flatMap(\.templates) + signExtensionTemplates + immediateMoveTemplates + flagByteTemplates
    }

    /// CMPXCHG stores only when the accumulator equals the destination: make that happen half the time.
    static func accumulatorMatchesSometimes(_ instruction: inout Instruction, _ operands: ModRMOperands, _ size: OperandSize) {
        instruction.alsoPrepare { state, data, rng in
            guard rng.chance(0.5) else { return }
            OperandLocation.register(0).plant(operands.rmLocation.read(size, state, data), size, &state, &data)
        }
    }

    /// LEA computes an address without touching memory: any base, index, scale and displacement.
    static func randomAddressing(_ instruction: inout Instruction, _ mode: ExecutionMode, _ rng: inout SeededGenerator) {
        let base = rng.register(mode)
        let index: Int? = rng.chance(0.5) ? rng.register(mode, excluding: [4]) : nil
        let displacement = Int32(truncatingIfNeeded: rng.pick([0, 1, -1, 127, -128, 0x7fff_ffff, -0x8000_0000, 0x1234]))
        instruction.form.rm = .based(base: base, index: index, scale: rng.pick([1, 2, 4, 8]), displacement: displacement)
        // 0x67 selects the other address size: 32-bit addresses in 64-bit mode, 16-bit ones in
        // 32-bit mode, where the ModRM table differs; only the 64-bit case is exercised.
        if mode == .long64, rng.chance(0.25) { instruction.form.prefixes.append(0x67) }
    }

    /// CBW/CWDE/CDQE (98) and CWD/CDQ/CQO (99), sized by 0x66 or REX.W.
    static var signExtensionTemplates: [InstructionTemplate] {
        [(UInt8(0x98), "cbw/cwde/cdqe"), (0x99, "cwd/cdq/cqo")].flatMap { opcode, mnemonic in
            OperandSize.wide(in: .long64).map { size in
                let name = "\(mnemonic) (\(size.suffix)-bit)"
                return InstructionTemplate(name, modes: size == .qword ? [.long64] : ExecutionMode.allCases) { _, _ in
                    var form = InstructionForm(opcode: [opcode])
                    form.select(size)
                    return Instruction(name: name, form: form)
                }
            }
        }
    }

    /// LAHF (9F) and SAHF (9E), also in 64-bit mode, where they exist only with CPUID
    /// 0x80000001:ECX.LAHF-SAHF (part of x86-64-v2; SDM vol. 2, LAHF).
    static var flagByteTemplates: [InstructionTemplate] {
        [(UInt8(0x9f), "lahf"), (0x9e, "sahf")].map { opcode, name in
            InstructionTemplate(name, modes: ExecutionMode.allCases) { _, _ in Instruction(name: name, form: InstructionForm(opcode: [opcode])) }
        }
    }

    /// MOV r, imm (B0+r, B8+r): with REX.W the immediate is a full 64 bits.
    static var immediateMoveTemplates: [InstructionTemplate] {
        OperandSize.allCases.map { size in
            let name = "mov r\(size.suffix), imm\(size.suffix)"
            return InstructionTemplate(name, modes: size == .qword ? [.long64] : ExecutionMode.allCases) { rng, mode in
                let register = rng.register(mode)
                var form = InstructionForm(opcode: [size == .byte ? 0xb0 : 0xb8], opcodeRegister: register)
                form.select(size)
                form.forceREX = size == .byte && rng.chance(0.5)
                form.immediate = littleEndian(rng.operand(size), bytes: size.bytes)
                return Instruction(name: name, form: form)
            }
        }
    }
}
