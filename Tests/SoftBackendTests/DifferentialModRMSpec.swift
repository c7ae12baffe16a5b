/// Describes a ModRM instruction once and expands it into templates at each operand size, in
/// register and memory forms, so the families stay tables rather than copies.
struct ModRMSpec {
    /// The mnemonic and operands, with `{s}` standing for the operand size ("adc r/m{s}, r{s}").
    var name: String
    var sizes: (ExecutionMode) -> [OperandSize] = OperandSize.available(in:)
    var opcode: (OperandSize) -> [UInt8]
    var prefixes: [UInt8] = []
    /// The opcode extension in the reg field, or nil when reg names a register operand.
    var digit: Int?
    var immediateBytes: (OperandSize) -> Int = { _ in 0 }
    var memoryForms: [Bool] = [false, true]
    /// Whether the size comes from 0x66/REX.W (false when the opcode fixes it).
    var selectsSize = true
    var alignment = 1
    /// The operand size the r/m operand has in memory, when it differs from the operation's.
    var rmSize: ((OperandSize) -> OperandSize)?
    /// Last adjustments to an instance: extra preparation, sequence safety.
    var customize: ((inout Instruction, SpecInstance, inout SeededGenerator) -> Void)?

    init(_ name: String, opcode: @escaping (OperandSize) -> [UInt8]) {
        self.name = name
        self.opcode = opcode
    }

    var templates: [InstructionTemplate] {
        let spec = self
        var result: [InstructionTemplate] = []
        for size in OperandSize.allCases {
            let modes = ExecutionMode.allCases.filter { spec.sizes($0).contains(size) }
            guard !modes.isEmpty else { continue }
            for memory in memoryForms {
                let name = spec.name.replacingOccurrences(of: "{s}", with: size.suffix) + (memory ? " [mem]" : " [reg]")
                result.append(InstructionTemplate(name, modes: modes) { rng, mode in
                    spec.instance(name: name, size: size, memory: memory, rng: &rng, mode: mode)
                })
            }
        }
        return result
    }

    private func instance(name: String, size: OperandSize, memory: Bool, rng: inout SeededGenerator,
                          mode: ExecutionMode) -> Instruction {
        let memorySize = rmSize?(size) ?? size
        let operands = ModRMOperands(&rng, mode, memorySize, memory: memory, alignment: alignment,
                                     rexW: selectsSize && size == .qword)
        var form = InstructionForm(prefixes: prefixes, opcode: opcode(size), reg: digit ?? operands.reg, rm: operands.rm)
        form.forceREX = operands.forceREX
        if selectsSize { form.select(size) }
        let immediateCount = immediateBytes(size)
        let immediateSize: OperandSize = immediateCount == 1 ? .byte : immediateCount == 2 ? .word : .dword
        let immediate = immediateCount == 0 ? 0 : rng.operand(immediateSize)
        form.immediate = littleEndian(immediate, bytes: immediateCount)
        let usesRegOperand = digit == nil
        var instruction = Instruction(name: name, form: form)
        instruction.prepare = { state, data, rng in
            operands.rmLocation.plant(rng.operand(memorySize), memorySize, &state, &data)
            if usesRegOperand { operands.regLocation.plant(rng.operand(size), size, &state, &data) }
        }
        customize?(&instruction, SpecInstance(operands: operands, size: size, immediate: immediate, mode: mode), &rng)
        return instruction
    }
}

/// What a spec chose for one instance, for `customize`.
struct SpecInstance {
    let operands: ModRMOperands
    let size: OperandSize
    let immediate: UInt64
    let mode: ExecutionMode
}

extension Instruction {
    /// Adds `more` after the existing preparation.
    mutating func alsoPrepare(_ more: @escaping (inout MachineState, inout [UInt8], inout SeededGenerator) -> Void) {
        let first = prepare
        prepare = { state, data, rng in
            first(&state, &data, &rng)
            more(&state, &data, &rng)
        }
    }
}


/// Applies `change` to a copy of `value`: builds table entries without a var per entry.
func with<T>(_ value: T, _ change: (inout T) -> Void) -> T {
    var copy = value
    change(&copy)
    return copy
}
