import Foundation

/// Runs instruction sequences on the oracle and a subject and compares them after every
/// instruction, keeping the tallies and the mismatch reports.
final class DifferentialRunner {
    let oracle: NativeOracle
    let subject: DifferentialSubject
    private(set) var instructionsCompared = 0
    private(set) var sequences = 0
    private(set) var oracleSeconds = 0.0
    private(set) var oracleRuns = 0
    /// Full reports of cases whose defined state differed.
    private(set) var failures: [String] = []
    /// Template name -> count of mismatches.
    private(set) var failingTemplates: [String: Int] = [:]
    /// Subject errors (an unimplemented path throwing, for instance) by template.
    private(set) var subjectErrors: [String: String] = [:]

    init(oracle: NativeOracle, subject: DifferentialSubject) {
        self.oracle = oracle
        self.subject = subject
    }

    /// Builds the input for `templates`' instances, runs them as one sequence, and compares after
    /// each instruction. Returns false when defined state differed.
    @discardableResult
    func run(_ templates: [InstructionTemplate], mode: ExecutionMode, rng: inout SeededGenerator) throws -> Bool {
        try run(instructions: templates.map { $0.make(&rng, mode) }, mode: mode, rng: &rng)
    }

    @discardableResult
    func run(instructions: [Instruction], mode: ExecutionMode, rng: inout SeededGenerator) throws -> Bool {
        var state = rng.machineState()
        var data = rng.dataPage()
        for instruction in instructions { instruction.prepare(&state, &data, &rng) }
        var code: [UInt8] = []
        var ends: [Int] = []
        for instruction in instructions {
            code += instruction.form.encode(in: mode, at: DifferentialLayout.codeAddress + UInt64(code.count))
            ends.append(code.count)
        }
        return try compare(instructions, code: code, ends: ends, mode: mode, input: (state, data))
    }

    /// The failures and subject errors as one message for an assertion.
    var failureMessage: String {
        (failures.prefix(20) + subjectErrors.sorted { $0.key < $1.key }.prefix(40).map { "SUBJECT ERROR \($0.key): \($0.value)" })
            .joined(separator: "\n") + "\n" + summary
    }

    private func compare(_ instructions: [Instruction], code: [UInt8], ends: [Int], mode: ExecutionMode,
                         input: (state: MachineState, data: [UInt8])) throws -> Bool {
        sequences += 1
        do {
            try subject.load(code: code, instructionEnds: ends, data: input.data, state: input.state, mode: mode)
        } catch {
            subjectErrors[instructions[0].name] = "\(error)"
            return false
        }
        for (index, instruction) in instructions.enumerated() {
            let start = Date()
            let expected = try oracle.run(code: Array(code[0..<ends[index]]), mode: mode, state: input.state, data: input.data)
            oracleSeconds += Date().timeIntervalSince(start)
            oracleRuns += 1
            let actual: Observation
            do {
                let result = try subject.step()
                let after = try subject.observe()
                actual = Observation(result: result, state: after.state, data: after.data)
            } catch {
                subjectErrors[instruction.name] = "\(error)"
                return false
            }
            instructionsCompared += 1
            let differences = Differences(oracle: expected, subject: actual, mode: mode)
            if !differences.defined.isEmpty {
                failingTemplates[instruction.name, default: 0] += 1
                failures.append(report(instructions, upTo: index, code: code, ends: ends, mode: mode, input: input.state,
                                       differences: differences))
                return false
            }
            if expected.result != .completed { return true }
        }
        return true
    }

    private func report(_ instructions: [Instruction], upTo index: Int, code: [UInt8], ends: [Int], mode: ExecutionMode,
                        input: MachineState, differences: Differences) -> String {
        let start = index == 0 ? 0 : ends[index - 1]
        var lines = ["MISMATCH [\(mode.rawValue)] \(instructions[index].name)  bytes: \(hex(bytes: Array(code[start..<ends[index]])))"]
        if instructions.count > 1 {
            lines.append("  sequence: " + instructions.map(\.name).joined(separator: " ; ") + "  (instruction \(index + 1))")
            lines.append("  sequence bytes: \(hex(bytes: code))")
        }
        lines.append("  input: \(input.described(mode: mode))")
        lines += differences.defined.map { "  defined:   \($0)" }
        return lines.joined(separator: "\n")
    }

    /// A summary: counts, the oracle's own rate, and the templates that differed.
    var summary: String {
        var lines = ["\(sequences) cases, \(instructionsCompared) instructions compared; oracle "
            + String(format: "%.0f runs/s", Double(oracleRuns) / max(oracleSeconds, 1e-9))]
        lines.append("defined-state mismatches: \(failingTemplates.values.reduce(0, +)) in \(failingTemplates.count) forms")
        for (name, count) in failingTemplates.sorted(by: { $0.key < $1.key }) { lines.append("  \(name): \(count)") }
        lines.append("subject errors: \(subjectErrors.count) forms")
        for (name, error) in subjectErrors.sorted(by: { $0.key < $1.key }) { lines.append("  \(name): \(error)") }
        return lines.joined(separator: "\n")
    }
}
