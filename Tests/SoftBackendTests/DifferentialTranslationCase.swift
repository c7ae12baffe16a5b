/// One piece of a whole-block case for the translator: an instruction and the name the report shows.
struct TranslationPiece {
    enum Kind {
        /// Encoded where it lands: RIP-relative operands depend on the address.
        case form(InstructionForm)
        /// Jcc (JMP when `condition` is nil) to the start of piece `target` (the end of the code when it
        /// is the piece count): rel8 unless `near` or the distance needs rel32 (SDM vol. 2, Jcc and JMP).
        case branch(condition: UInt8?, target: Int, near: Bool)
        /// mov byte [rip -> last byte of piece `target`], value (C6 /0 with a RIP-relative operand, or
        /// an absolute disp32 in 32-bit code): self-modifying code, rewriting a later instruction's last
        /// immediate byte.
        case patch(target: Int, value: UInt8)
    }

    /// The mnemonic and operands; a branch's or a patch's target piece is added by `description`.
    var name: String
    var kind: Kind
    /// How many times at most it runs per pass (string instructions may retire per iteration).
    var weight = 1

    var description: String {
        switch kind {
        case .form: return name
        case let .branch(_, target, _): return "\(name) -> piece \(target)"
        case let .patch(target, _): return "\(name) (last byte of piece \(target))"
        }
    }

    /// The same piece with its branch target moved by `offset` pieces (pieces built in a list of
    /// their own and then appended).
    func shifted(by offset: Int) -> TranslationPiece {
        var moved = self
        switch kind {
        case let .branch(condition, target, near): moved.kind = .branch(condition: condition, target: target + offset, near: near)
        case let .patch(target, value): moved.kind = .patch(target: target + offset, value: value)
        case .form: break
        }
        return moved
    }
}

/// A generated sequence run whole on the Soft CPU with translation on and on the host CPU, compared
/// only at the end: the code stops at the INT3 filler after it, on both sides.
struct TranslationCase {
    var pieces: [TranslationPiece]
    var state: MachineState
    var data: [UInt8]
    /// An upper bound on the instructions it retires (every loop pass, every string iteration).
    var budget: Int
    var mode: ExecutionMode

    /// The code bytes and where each piece sits in them.
    func assemble() -> (code: [UInt8], ranges: [Range<Int>]) {
        let lengths = branchLengths()
        let offsets = layout(lengths)
        var code: [UInt8] = []
        var ranges: [Range<Int>] = []
        for (index, piece) in pieces.enumerated() {
            let start = code.count
            switch piece.kind {
            case let .form(form):
                code += form.encode(in: mode, at: DifferentialLayout.codeAddress + UInt64(start))
            case let .branch(condition, target, _):
                let displacement = offsets[target] - offsets[index + 1]
                let short = lengths[index] == 2
                switch condition {
                case let condition? where short: code += [0x70 | condition]
                case let condition?: code += [0x0f, 0x80 | condition]
                case nil: code += [short ? 0xeb : 0xe9]
                }
                code += littleEndian(UInt64(bitPattern: Int64(displacement)), bytes: short ? 1 : 4)
            case let .patch(target, value):
                let displacement = mode == .long64
                    ? UInt64(bitPattern: Int64(offsets[target + 1] - 1 - offsets[index + 1]))
                    : DifferentialLayout.codeAddress + UInt64(offsets[target + 1] - 1)
                code += [0xc6, 0x05] + littleEndian(displacement, bytes: 4) + [value]
            }
            ranges.append(start..<code.count)
        }
        return (code, ranges)
    }

    /// The length of each branch: rel8 where asked and where every rel8 reaches, found by widening
    /// the ones that do not until none changes (widening one can only lengthen others' distances).
    private func branchLengths() -> [Int: Int] {
        var lengths: [Int: Int] = [:]
        for (index, piece) in pieces.enumerated() {
            if case let .branch(condition, _, near) = piece.kind { lengths[index] = near ? Self.nearLength(condition) : 2 }
        }
        var changed = true
        while changed {
            changed = false
            let offsets = layout(lengths)
            for (index, piece) in pieces.enumerated() {
                guard case let .branch(condition, target, _) = piece.kind, lengths[index] == 2 else { continue }
                if Int8(exactly: offsets[target] - offsets[index + 1]) == nil {
                    lengths[index] = Self.nearLength(condition)
                    changed = true
                }
            }
        }
        return lengths
    }

    /// 0F 8x rel32 for Jcc, E9 rel32 for JMP.
    private static func nearLength(_ condition: UInt8?) -> Int { condition == nil ? 5 : 6 }

    /// Each piece's offset in the code, and the code's length last, given the branch lengths.
    private func layout(_ branchLengths: [Int: Int]) -> [Int] {
        var offsets = [0]
        for (index, piece) in pieces.enumerated() {
            offsets.append(offsets[index] + (branchLengths[index] ?? encodedLength(piece)))
        }
        return offsets
    }

    private func encodedLength(_ piece: TranslationPiece) -> Int {
        switch piece.kind {
        case let .form(form): return form.encode(in: mode, at: DifferentialLayout.codeAddress).count
        case .patch: return 7
        case .branch: return 0 // sized by `branchLengths`
        }
    }
}
