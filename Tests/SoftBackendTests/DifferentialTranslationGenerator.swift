/// Random whole-block cases for the translator: straight runs of translatable catalog forms (memory
/// operands RIP-relative or on base and index registers) with forward Jcc over whole units, counted
/// loops (a memory counter, DEC or SUB, then JNZ back or JZ out and JMP back), now and then a group
/// the translator must leave to the interpreter (PUSH/POP, a string instruction, MUL and the like),
/// often followed by `JMP +0` so that what comes after starts a block of its own again, and rarely
/// a store rewriting a later instruction.
///
/// Nothing may jump into the middle of a unit: a unit's first instruction sets up what the rest
/// needs (RSP, RSI/RDI/RCX, the loop counter, an address), so every branch target is a unit's start.
struct TranslationCaseGenerator {
    /// The loop counter's offset in the data page: catalog operands start at offset 32
    /// (`SeededGenerator.dataOffset`), so nothing else touches it and every loop ends.
    static let counterOffset = 0
    /// Stack pointers and string pointers start mid-page, with room for every push and every element
    /// of a string instruction in either direction (DF is random).
    static let stackTop = DifferentialLayout.dataAddress + 2048
    static let stringArea = 1024

    private var rng: SeededGenerator
    let mode: ExecutionMode
    private let pools: (translatable: [InstructionTemplate], interpreted: [InstructionTemplate])

    init(seed: UInt64, mode: ExecutionMode = .long64) {
        rng = SeededGenerator(seed: seed)
        self.mode = mode
        pools = TranslationPools.byMode[mode] ?? ([], [])
    }

    mutating func make() -> TranslationCase {
        var state = rng.machineState()
        var data = rng.dataPage()
        var pieces: [Prepared] = []
        var budget = 1 // the INT3 the run stops at
        for _ in 0..<(2 + rng.below(3)) {
            let segment = rng.chance(0.4) ? loop() : straight(units: 3 + rng.below(6), interpreted: 0.12)
            pieces += segment.pieces.map { $0.shifted(by: pieces.count) }
            budget += segment.budget
        }
        // Rarely (a code write drops every translation, cold again), self-modifying code; never in a
        // loop, whose next pass would run the rewritten instruction before the rewrite.
        if rng.chance(0.1) {
            let patch = selfModifyingUnit()
            pieces += patch.map { $0.shifted(by: pieces.count) }
            budget += patch.count
        }
        for piece in pieces { piece.prepare?(&state, &data, &rng) }
        return TranslationCase(pieces: pieces.map(\.piece), state: state, data: data, budget: budget, mode: mode)
    }

    /// A piece and, for catalog forms, the preparation of its operands in the input state.
    private struct Prepared {
        var piece: TranslationPiece
        var prepare: ((inout MachineState, inout [UInt8], inout SeededGenerator) -> Void)?

        func shifted(by offset: Int) -> Prepared { Prepared(piece: piece.shifted(by: offset), prepare: prepare) }
    }

    /// `units` units, with a forward Jcc after some of them over the next zero to two units (or to the
    /// end of the run); branch targets are relative to the run's first piece.
    private mutating func straight(units count: Int, interpreted: Double) -> (pieces: [Prepared], budget: Int) {
        var units: [[Prepared]] = []
        for _ in 0..<count { units.append(rng.chance(interpreted) ? interpretedUnit() : translatableUnit()) }
        let skips: [Int?] = units.indices.map { _ in rng.chance(0.3) ? rng.below(3) : nil }
        var starts: [Int] = []
        var next = 0
        for (index, unit) in units.enumerated() {
            starts.append(next)
            next += unit.count + (skips[index] == nil ? 0 : 1)
        }
        starts.append(next)
        var pieces: [Prepared] = []
        for (index, unit) in units.enumerated() {
            pieces += unit
            guard let skip = skips[index] else { continue }
            let condition = UInt8(rng.below(16))
            let target = starts[min(index + 1 + skip, units.count)]
            let name = "j\(MoveFamilies.conditions[Int(condition)])"
            pieces.append(Prepared(piece: TranslationPiece(name: name, kind: .branch(condition: condition, target: target,
                                                                                       near: rng.chance(0.3)))))
        }
        return (pieces, pieces.reduce(0) { $0 + $1.piece.weight })
    }

    /// mov dword [counter], n; body; then dec dword [counter] (RIP-relative), or mov r, counter address
    /// and sub dword [r], 1 (a compare-and-branch pair the decoder fuses with the Jcc); then jnz body,
    /// or jz out and jmp body (the loop closed by an unconditional jump): the body runs n times (SDM
    /// vol. 2, DEC and SUB set ZF when the result is zero).
    private mutating func loop() -> (pieces: [Prepared], budget: Int) {
        let passes = 3 + rng.below(6)
        let counter = ModRMOperand.data(offset: Self.counterOffset)
        let initial = InstructionForm(opcode: [0xc7], reg: 0, rm: counter, immediate: littleEndian(UInt64(passes), bytes: 4))
        let body = straight(units: 2 + rng.below(5), interpreted: 0.1)
        var pieces = [fixed("mov dword [counter], \(passes)", initial)]
        pieces += body.pieces.map { $0.shifted(by: 1) }
        if rng.chance(0.5) {
            pieces.append(fixed("dec dword [counter]", InstructionForm(opcode: [0xff], reg: 1, rm: counter)))
        } else {
            let register = rng.register(mode, excluding: [4])
            pieces.append(moveImmediate(register, DifferentialLayout.dataAddress + UInt64(Self.counterOffset)))
            pieces.append(fixed("sub dword [\(MachineState.registerNames[register])], 1",
                                InstructionForm(opcode: [0x83], reg: 5, rm: .based(base: register, index: nil, scale: 1, displacement: 0),
                                                immediate: [1])))
        }
        if rng.chance(0.7) {
            pieces.append(Prepared(piece: TranslationPiece(name: "jne", kind: .branch(condition: 5, target: 1, near: false))))
        } else {
            pieces.append(Prepared(piece: TranslationPiece(name: "je", kind: .branch(condition: 4, target: pieces.count + 2, near: false))))
            pieces.append(Prepared(piece: TranslationPiece(name: "jmp", kind: .branch(condition: nil, target: 1, near: rng.chance(0.3)))))
        }
        return (pieces, 1 + passes * (body.budget + 4))
    }

    /// A translatable catalog form; half of its memory operands are rebased from RIP-relative to
    /// [base + index * scale + displacement] on registers set just before it, aiming at the same bytes;
    /// a quarter of those with 32-bit addressing (0x67) and junk in the base's upper half, which the
    /// address must ignore (SDM vol. 1, 3.3.7). Some reads aim a few bytes before the data page instead,
    /// at the INT3 filler ending the code page, so that they cross from one page into the next (which
    /// translated code leaves to the interpreter). Writes never do: the code page must stay as the
    /// oracle starts it.
    private mutating func translatableUnit() -> [Prepared] {
        var instruction = catalog(pools.translatable)
        guard case let .form(form) = instruction.piece.kind, case .data(var offset)? = form.rm, rng.chance(0.5) else {
            return [instruction]
        }
        if TranslationPools.readsMemoryOnly(instruction.piece.name), rng.chance(0.1) { offset = -1 - rng.below(7) }
        let base = rng.register(mode)
        let index: Int? = rng.chance(0.5) ? rng.register(mode, excluding: [4, base]) : nil
        let scale = rng.pick([1, 2, 4, 8])
        let indexValue = UInt64(rng.below(16))
        let displacement = Int32(rng.pick([0, 8, -8, 127, -128, 0x200, -0x200]))
        let target = DifferentialLayout.dataAddress &+ UInt64(bitPattern: Int64(offset))
        let baseValue = target &- (index == nil ? 0 : indexValue * UInt64(scale)) &- UInt64(bitPattern: Int64(displacement))
        let address32 = mode == .long64 && rng.chance(0.25) // in 32-bit code 0x67 means 16-bit addresses
        var rebased = form
        rebased.rm = .based(base: base, index: index, scale: scale, displacement: displacement)
        if address32 { rebased.prefixes.append(0x67) }
        instruction.piece.kind = .form(rebased)
        instruction.piece.name += (address32 ? " @addr32[" : " @[") + MachineState.registerNames[base]
            + (index.map { " + \(MachineState.registerNames[$0])*\(scale)" } ?? "")
            + " \(displacement < 0 ? "-" : "+") \(hex(UInt64(displacement.magnitude)))]"
        var unit = [address32 ? moveImmediate64(base, rng.next() << 32 | baseValue & 0xffff_ffff) : moveImmediate(base, baseValue)]
        if let index { unit.append(moveImmediate(index, indexValue)) }
        return unit + [instruction]
    }

    /// A store into the code rewriting the immediate of a MOV a few translatable instructions on: the
    /// block holding the store was decoded with the old byte, the MOV must run with the new one (SDM
    /// vol. 3, 11.6: self-modifying code).
    private mutating func selfModifyingUnit() -> [Prepared] {
        let between = (0..<rng.below(3)).map { _ in catalog(pools.translatable) }
        let register = rng.register(mode)
        let value = UInt8(truncatingIfNeeded: rng.next())
        let patch = TranslationPiece(name: "mov byte [rip + disp32], \(hex(UInt64(value)))",
                                     kind: .patch(target: between.count + 1, value: value))
        return [Prepared(piece: patch)] + between + [moveImmediate(register, rng.next() & 0xffff_ffff)]
    }

    /// mov r64, imm64 (REX.W B8+r).
    private func moveImmediate64(_ register: Int, _ value: UInt64) -> Prepared {
        fixed("mov \(MachineState.registerNames[register]), \(hex(value))",
              InstructionForm(rexW: true, opcode: [0xb8], opcodeRegister: register, immediate: littleEndian(value, bytes: 8)))
    }

    /// mov r32, imm32 (B8+r), which zero-extends into the whole register (SDM vol. 1, 3.4.1.1).
    private func moveImmediate(_ register: Int, _ value: UInt64) -> Prepared {
        fixed("mov \(MachineState.registerNames[register]), \(hex(value))",
              InstructionForm(opcode: [0xb8], opcodeRegister: register, immediate: littleEndian(value, bytes: 4)))
    }

    /// Something the translator cannot do, sometimes closed by `JMP +0` (EB 00), which ends the
    /// decoded block so the next instruction heads a new, translatable one.
    private mutating func interpretedUnit() -> [Prepared] {
        var unit: [Prepared]
        switch rng.below(3) {
        case 0: unit = stackUnit()
        case 1: unit = stringUnit()
        default: unit = [catalog(pools.interpreted)]
        }
        if rng.chance(0.7) { unit.append(Prepared(piece: TranslationPiece(name: "jmp +0", kind: .form(InstructionForm(opcode: [0xeb], immediate: [0]))))) }
        return unit
    }

    /// mov esp, top; then PUSH r64 / POP r64 / PUSH imm8.
    private mutating func stackUnit() -> [Prepared] {
        let top = Self.stackTop + 8 * UInt64(rng.below(16))
        var unit = [moveImmediate(4, top)]
        for _ in 0..<(1 + rng.below(3)) {
            switch rng.below(3) {
            case 0:
                let register = rng.register(mode)
                unit.append(fixed("push \(MachineState.registerNames[register])", InstructionForm(opcode: [0x50], opcodeRegister: register)))
            case 1:
                let register = rng.register(mode, excluding: [4])
                unit.append(fixed("pop \(MachineState.registerNames[register])", InstructionForm(opcode: [0x58], opcodeRegister: register)))
            default:
                let value = rng.operand(.byte)
                unit.append(fixed("push \(hex(value))", InstructionForm(opcode: [0x6a], immediate: [UInt8(value)])))
            }
        }
        return unit
    }

    /// mov esi, src; mov edi, dst; mov ecx, count; then a string instruction, repeated or not.
    private mutating func stringUnit() -> [Prepared] {
        let operation = rng.pick(StringFamilies.operations)
        let size = rng.pick(OperandSize.allCases)
        let repeats: [(UInt8?, String)] = operation.compares ? [(nil, ""), (0xf3, "repe "), (0xf2, "repne ")] : [(nil, ""), (0xf3, "rep ")]
        let (prefix, prefixName) = rng.pick(repeats)
        let count = UInt64(rng.below(13))
        let source = DifferentialLayout.dataAddress + UInt64(Self.stringArea + rng.below(2048))
        let destination = DifferentialLayout.dataAddress + UInt64(Self.stringArea + rng.below(2048))
        var form = InstructionForm(opcode: [operation.opcode + (size == .byte ? 0 : 1)])
        form.select(size)
        if let prefix { form.prefixes.append(prefix) }
        var string = fixed("\(prefixName)\(operation.mnemonic)\(size.suffix)", form)
        string.piece.weight = Int(count) + 1
        return [moveImmediate(6, source), moveImmediate(7, destination), moveImmediate(1, count), string]
    }

    private mutating func catalog(_ pool: [InstructionTemplate]) -> Prepared {
        let instruction = rng.pick(pool).make(&rng, mode)
        return Prepared(piece: TranslationPiece(name: instruction.name, kind: .form(instruction.form)), prepare: instruction.prepare)
    }

    private func fixed(_ name: String, _ form: InstructionForm) -> Prepared {
        Prepared(piece: TranslationPiece(name: name, kind: .form(form)))
    }
}
