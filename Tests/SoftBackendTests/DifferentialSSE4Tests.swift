import XCTest

/// The SSSE3/SSE4 forms against the host CPU with every imm8 value (blends, PALIGNR, MPSADBW,
/// INSERTPS, the element extracts and inserts): the immediate selects the whole behaviour, so two
/// random immediates per form (DifferentialInstructionTests) would leave most of it untested.
/// The element moves use only the low bits of imm8 as an index, so they get each index with random
/// high bits rather than all 256 values. SOFT_DIFF_SEED picks other operands.
final class DifferentialSSE4Tests: XCTestCase {
    func testEveryImmediateMatchesTheHostCPU() throws {
        let runner = DifferentialRunner(oracle: try NativeOracle(), subject: try SoftSubject())
        let seed = DifferentialInstructionTests.seed &+ 0x55e4
        var rng = SeededGenerator(seed: seed)
        let indexed = ["pextr", "pinsr", "extractps"]
        for template in SSE4Families.templates where template.name.contains("imm8") {
            // Every imm8 with a register operand; the memory forms (the same computation after the
            // load) get 64 random ones.
            let isElementMove = indexed.contains { template.name.hasPrefix($0) }
            let immediates = isElementMove ? (0..<16).map { UInt8($0) | UInt8(truncatingIfNeeded: rng.next()) & 0xf0 }
                : template.name.hasSuffix("[mem]") ? (0..<64).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                : (0...255).map { UInt8($0) }
            for immediate in immediates {
                let mode = template.modes.contains(.long64) ? ExecutionMode.long64 : rng.pick(template.modes)
                var instruction = template.make(&rng, mode)
                instruction.form.immediate = [immediate]
                try runner.run(instructions: [instruction], mode: mode, rng: &rng)
            }
        }
        print("differential SSE4 immediates (seed \(seed)):\n\(runner.summary)")
        XCTAssertGreaterThan(runner.instructionsCompared, 0, "nothing was compared")
        XCTAssertTrue(runner.failures.isEmpty && runner.subjectErrors.isEmpty, runner.failureMessage)
    }

    /// The SSE3 floating-point forms, many times each: special operands (NaN pairs whose payloads
    /// must come from the right operand, signed zeros, infinities, denormals) are planted at random,
    /// so each needs many cases to meet its combinations.
    func testSSE3FloatingPointMatchesTheHostCPU() throws {
        let runner = DifferentialRunner(oracle: try NativeOracle(), subject: try SoftSubject())
        let seed = DifferentialInstructionTests.seed &+ 0x55e3
        var rng = SeededGenerator(seed: seed)
        let floating = ["addsub", "hadd", "hsub"]
        for template in SSE4Families.templates where floating.contains(where: { template.name.hasPrefix($0) }) {
            for _ in 0..<100 { try runner.run([template], mode: .long64, rng: &rng) }
        }
        print("differential SSE3 floating point (seed \(seed)):\n\(runner.summary)")
        XCTAssertGreaterThan(runner.instructionsCompared, 0, "nothing was compared")
        XCTAssertTrue(runner.failures.isEmpty && runner.subjectErrors.isEmpty, runner.failureMessage)
    }
}
