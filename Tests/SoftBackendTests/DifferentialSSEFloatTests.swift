import XCTest

/// The SSE floating-point forms against the host CPU, many cases each, MXCSR included in the
/// compared state: special operands and MXCSR settings are drawn at random, so each form needs
/// many cases to meet their combinations (a NaN pair under DAZ with an unmasked invalid
/// exception, say). SOFT_DIFF_SEED picks other cases.
final class DifferentialSSEFloatTests: XCTestCase {
    func makeRunner() throws -> DifferentialRunner {
        DifferentialRunner(oracle: try NativeOracle(), subject: try SoftSubject())
    }

    func assertNoMismatch(_ runner: DifferentialRunner, _ what: String, seed: UInt64) {
        print("differential \(what) (seed \(seed)):\n\(runner.summary)")
        XCTAssertGreaterThan(runner.instructionsCompared, 0, "nothing was compared")
        XCTAssertTrue(runner.failures.isEmpty && runner.subjectErrors.isEmpty, runner.failureMessage)
    }

    func testFloatingPointFormsAndMXCSRMatchTheHostCPU() throws {
        let runner = try makeRunner()
        let seed = DifferentialInstructionTests.seed &+ 0xf10a7
        var rng = SeededGenerator(seed: seed)
        let floating = SSEFloatFamilies.templates + SSE4Families.templates.filter {
            ["round", "dpp", "addsub", "hadd", "hsub"].contains(where: $0.name.hasPrefix)
        }
        for template in floating {
            for mode in template.modes {
                for _ in 0..<(mode == .long64 ? 60 : 10) { try runner.run([template], mode: mode, rng: &rng) }
            }
        }
        assertNoMismatch(runner, "SSE floating point", seed: seed)
    }

    /// CMPPS/CMPPD/CMPSS/CMPSD with each predicate 0-7, and with random bits above them (the
    /// legacy encodings use imm8[2:0] only).
    func testEveryComparePredicateMatchesTheHostCPU() throws {
        let runner = try makeRunner()
        let seed = DifferentialInstructionTests.seed &+ 0xc3b
        var rng = SeededGenerator(seed: seed)
        for template in SSEFloatFamilies.templates where template.name.hasPrefix("cmp") {
            for predicate in 0..<8 {
                for round in 0..<12 {
                    var instruction = template.make(&rng, .long64)
                    let high = round < 8 ? 0 : UInt8(truncatingIfNeeded: rng.next()) & 0xf8
                    instruction.form.immediate = [UInt8(predicate) | high]
                    try runner.run(instructions: [instruction], mode: .long64, rng: &rng)
                }
            }
        }
        assertNoMismatch(runner, "compare predicates", seed: seed)
    }
}
