import SoftBackend

/// The Soft CPU (a `SoftSubject` in long mode) running a whole case in one `step(instructions:)` call
/// per pass, with the block translator on and translating every block the first time it is looked
/// up. Whether a block's code also runs at that first lookup, and what a memory operand missing the
/// software TLB does, are the execution loop's and the translator's business; so one case runs four
/// times on one vCPU, each pass from the case's input state and compared on its own:
/// - cold: a fresh vCPU and an empty TLB; blocks are translated as they are met;
/// - warm: the translations exist, and a warm-up stub has just read and written the data page,
///   filling the software TLB's read and write entries, so memory operands hit inline;
/// - flushed: the same with the TLB emptied, so translated memory operands take the miss path;
/// - chunked: warm again, but run by many small `step(instructions:)` calls, each of which must
///   retire exactly what it was given however the translated code's passes fall across it.
/// The warm-up stub sits in the code page past any case's code, never reached by it; the code page is
/// written once, before anything is decoded (cases may then rewrite their own code, as the oracle's).
/// Last, the case runs once more with translation off: the interpreter's state, every bit of it
/// (upper register halves included, which the host cannot show for 32-bit code), is what each
/// translated pass must match.
final class TranslatingSoftSubject {
    enum Pass: String, CaseIterable {
        case cold, warm, flushed, chunked
    }

    /// The budgets of the chunked pass's calls, in turn: small, and prime to typical pass lengths.
    static let chunks = [1, 2, 3, 5, 8, 13, 21]

    /// Where the warm-up stub sits in the code page: after any case's code, before the page's end.
    static let warmUpOffset = 0xc00
    /// mov al, [rip -> data page]; mov [rip -> data page], al (SDM vol. 2, MOV 8A /r and 88 /r).
    static let warmUpForms = [InstructionForm(opcode: [0x8a], reg: 0, rm: .data(offset: 0)),
                              InstructionForm(opcode: [0x88], reg: 0, rm: .data(offset: 0))]
    /// #BP, raised by the INT3 filler the code runs into (SDM vol. 3, 6.15).
    static let breakpointVector: UInt8 = 3

    /// How one pass ended, what it retired, and how much of that in translated code.
    struct Run {
        var pass: Pass
        var observation: Observation
        var retired: UInt64
        var native: UInt64
        var translatedBlocks: Int
        /// Step calls that retired other than their budget without reaching the end.
        var overshoots: [String] = []
    }

    private let subject: SoftSubject

    init() throws { subject = try SoftSubject() }

    /// Whether this host runs translated code at all (x86-64 with LAHF/SAHF in 64-bit mode, and
    /// executable memory).
    func translationAvailable() throws -> Bool {
        try subject.load(code: [], instructionEnds: [], data: [UInt8](repeating: 0, count: DifferentialLayout.pageSize),
                         state: MachineState(), mode: .long64)
        guard let cpu = subject.cpu else { return false }
        cpu.translationEnabled = true
        return cpu.translationEnabled
    }

    func run(code: [UInt8], state: MachineState, data: [UInt8], budget: Int, mode: ExecutionMode) throws
        -> (translated: [Run], interpreted: Observation) {
        guard code.count <= Self.warmUpOffset else { throw DifferentialError.subject("\(code.count) bytes of code reach the warm-up") }
        var page = code + [UInt8](repeating: 0xcc, count: Self.warmUpOffset - code.count)
        for form in Self.warmUpForms { page += form.encode(in: mode, at: DifferentialLayout.codeAddress + UInt64(page.count)) }
        try subject.load(code: page, instructionEnds: [], data: data, state: state, mode: mode)
        guard let cpu = subject.cpu else { throw DifferentialError.subject("no vCPU") }
        cpu.translationEnabled = true
        cpu.translationThreshold = 1
        var runs: [Run] = []
        for pass in Pass.allCases {
            switch pass {
            case .cold:
                break
            case .warm:
                var warmUp = state
                warmUp.rip = DifferentialLayout.codeAddress + UInt64(Self.warmUpOffset)
                try subject.overwrite(state: warmUp, data: data)
                guard try cpu.step(instructions: Self.warmUpForms.count) == .completed,
                      try cpu.generalRegisters().rip == DifferentialLayout.codeAddress + UInt64(page.count) else {
                    throw DifferentialError.subject("the data-page warm-up did not complete")
                }
                try subject.overwrite(state: state, data: data)
            case .flushed:
                cpu.cr3CacheEnabled = cpu.cr3CacheEnabled // its setter empties the TLB, decoded code stays
                try subject.overwrite(state: state, data: data)
            case .chunked:
                try subject.overwrite(state: state, data: data)
            }
            runs.append(try run(pass, cpu, end: DifferentialLayout.codeAddress + UInt64(code.count), budget: budget))
        }
        cpu.translationEnabled = false
        try subject.overwrite(state: state, data: data)
        let interpreted = try run(.cold, cpu, end: DifferentialLayout.codeAddress + UInt64(code.count), budget: budget)
        return (runs, interpreted.observation)
    }

    private func run(_ pass: Pass, _ cpu: SoftVirtualCPU, end: UInt64, budget: Int) throws -> Run {
        let (retired, native, blocks) = (cpu.instructionsRetired, cpu.nativeInstructionsRetired, cpu.translatedBlocks)
        var overshoots: [String] = []
        var outcome = SoftStepOutcome.completed
        if pass == .chunked {
            var call = 0
            while outcome == .completed && cpu.instructionsRetired - retired < UInt64(budget) {
                let chunk = Self.chunks[call % Self.chunks.count], before = cpu.instructionsRetired
                outcome = try cpu.step(instructions: chunk)
                call += 1
                if outcome == .completed && cpu.instructionsRetired - before != UInt64(chunk) {
                    overshoots.append("step(instructions: \(chunk)) call \(call) retired \(cpu.instructionsRetired - before)")
                }
            }
        } else {
            outcome = try cpu.step(instructions: budget)
        }
        let after = try subject.observe()
        var observation = Observation(result: .completed, state: after.state, data: after.data)
        switch outcome {
        case let .exception(vector, errorCode):
            // The INT3 filler after the code: the Soft CPU reports #BP with RIP past the INT3 (a trap,
            // SDM vol. 3, 6.5), the oracle with the INT3's own address. Anything else stands as it was.
            if vector == Self.breakpointVector, after.state.rip == end + 1 {
                observation.state.rip -= 1
            } else {
                observation.result = .exception(vector: vector, errorCode: errorCode)
            }
        case .completed:
            break // the budget ran out first: RIP shows where
        case .halted:
            throw DifferentialError.subject("halted at \(hex(after.state.rip))")
        }
        return Run(pass: pass, observation: observation, retired: cpu.instructionsRetired - retired,
                   native: cpu.nativeInstructionsRetired - native, translatedBlocks: cpu.translatedBlocks - blocks,
                   overshoots: overshoots)
    }
}
