import XCTest

/// The native oracle as its own subject: each step reruns the code up to the next instruction
/// end from the initial state. Checks the harness without the Soft CPU: the oracle is
/// deterministic, the comparison finds no difference between identical runs, and the generators
/// raise only the exceptions they mean to (divide errors, LOCK on a register, misaligned MOVDQA).
final class OracleSubject: DifferentialSubject {
    private let oracle: NativeOracle
    private var code: [UInt8] = [], ends: [Int] = [], data: [UInt8] = []
    private var state = MachineState(), mode = ExecutionMode.long64
    private var executed = 0
    private var current: Observation?

    init(oracle: NativeOracle) { self.oracle = oracle }

    func load(code: [UInt8], instructionEnds: [Int], data: [UInt8], state: MachineState, mode: ExecutionMode) throws {
        (self.code, ends, self.data, self.state, self.mode) = (code, instructionEnds, data, state, mode)
        executed = 0
        current = nil
    }

    func step() throws -> StepResult {
        guard executed < ends.count else { throw DifferentialError.subject("stepped past the sequence") }
        let next = try oracle.run(code: Array(code[0..<ends[executed]]), mode: mode, state: state, data: data)
        executed += 1
        current = next
        return next.result
    }

    func observe() throws -> (state: MachineState, data: [UInt8]) {
        guard let current else { throw DifferentialError.subject("nothing executed") }
        return (current.state, current.data)
    }

}

final class DifferentialOracleSelfTests: XCTestCase {
    func testTheOracleAgreesWithItselfOnEveryFormAndSequence() throws {
        let oracle = try NativeOracle()
        let runner = DifferentialRunner(oracle: oracle, subject: OracleSubject(oracle: oracle))
        for mode in ExecutionMode.allCases {
            var rng = SeededGenerator(seed: 0x0ac1e + UInt64(mode == .long64 ? 0 : 1))
            for template in InstructionCatalog.templates(for: mode) { try runner.run([template], mode: mode, rng: &rng) }
            let pool = InstructionCatalog.sequenceTemplates(for: mode)
            for _ in 0..<200 { try runner.run((0..<4).map { _ in rng.pick(pool) }, mode: mode, rng: &rng) }
        }
        print("oracle self-check:\n\(runner.summary)")
        XCTAssertGreaterThan(runner.instructionsCompared, 2000)
        XCTAssertTrue(runner.failures.isEmpty && runner.subjectErrors.isEmpty,
                      runner.failureMessage)
    }

    func testGeneratedFormsRaiseOnlyTheExceptionsTheyMeanTo() throws {
        let oracle = try NativeOracle()
        var rng = SeededGenerator(seed: 0xe7ce)
        var unexpected: [String] = []
        for mode in ExecutionMode.allCases {
            for template in InstructionCatalog.templates(for: mode) {
                for _ in 0..<4 {
                    let instruction = template.make(&rng, mode)
                    var state = rng.machineState()
                    var data = rng.dataPage()
                    instruction.prepare(&state, &data, &rng)
                    let code = instruction.form.encode(in: mode, at: DifferentialLayout.codeAddress)
                    let observed = try oracle.run(code: code, mode: mode, state: state, data: data)
                    guard case let .exception(vector, _) = observed.result else { continue }
                    let intended = vector == 0 && template.name.contains("div") || vector == 6 && template.name.hasSuffix("[reg]")
                        && template.name.hasPrefix("lock") || vector == 13 && template.name.contains("misaligned")
                        || vector == 19 && state.mxcsr & 0x1f80 != 0x1f80 // the floating families unmask exceptions
                    if !intended { unexpected.append("[\(mode.rawValue)] \(template.name) \(hex(bytes: code)): \(observed.result)") }
                }
            }
        }
        XCTAssertEqual(unexpected, [])
    }
}
