import Foundation
import XCTest

/// The Soft CPU against the host CPU, instruction by instruction (see NativeOracle and
/// DifferentialRunner). Seeds are fixed so a failure reproduces; SOFT_DIFF_SEED picks others.
/// SOFT_SOAK_SECONDS turns the random-sequence test into a soak (scripts/soft-soak).
final class DifferentialInstructionTests: XCTestCase {
    static let seed = ProcessInfo.processInfo.environment["SOFT_DIFF_SEED"].flatMap { UInt64($0) } ?? 0x5eed_0001

    func makeRunner() throws -> DifferentialRunner {
        DifferentialRunner(oracle: try NativeOracle(), subject: try SoftSubject())
    }

    func assertNoMismatch(_ runner: DifferentialRunner, _ what: String) {
        print("differential \(what) (seed \(Self.seed)):\n\(runner.summary)")
        XCTAssertGreaterThan(runner.instructionsCompared, 0, "nothing was compared")
        XCTAssertTrue(runner.failures.isEmpty && runner.subjectErrors.isEmpty, runner.failureMessage)
    }

    /// Every form at every operand size, register and memory operands, in both modes, with
    /// boundary-biased operands.
    func testEveryFormMatchesTheHostCPU() throws {
        let runner = try makeRunner()
        for mode in ExecutionMode.allCases {
            var rng = SeededGenerator(seed: Self.seed &+ UInt64(mode == .long64 ? 0 : 1))
            for template in InstructionCatalog.templates(for: mode) {
                for _ in 0..<2 { try runner.run([template], mode: mode, rng: &rng) }
            }
        }
        assertNoMismatch(runner, "every form")
    }

    /// Each condition code of Jcc, SETcc and CMOVcc under all 32 combinations of CF PF ZF SF OF.
    func testEveryConditionMatchesTheHostCPU() throws {
        let runner = try makeRunner()
        let consumers = InstructionCatalog.templates.filter {
            $0.name.hasPrefix("j") || $0.name.hasPrefix("set") && $0.name.hasSuffix("[reg]")
        }
        var rng = SeededGenerator(seed: Self.seed &+ 2)
        let flagBits = [Flag.cf, Flag.pf, Flag.zf, Flag.sf, Flag.of]
        for template in consumers where template.name.contains("rel8") || template.name.hasPrefix("set") {
            for combination in 0..<32 {
                var instruction = template.make(&rng, .long64)
                let flags = flagBits.enumerated().reduce(UInt64(0x2)) { $0 | (combination >> $1.offset & 1 == 1 ? $1.element : 0) }
                instruction.alsoPrepare { state, _, _ in state.rflags = flags }
                try runner.run(instructions: [instruction], mode: .long64, rng: &rng)
            }
        }
        assertNoMismatch(runner, "condition codes")
    }

    /// Seeded random sequences of two to six instructions, compared after each one.
    func testRandomSequencesMatchTheHostCPU() throws {
        let runner = try makeRunner()
        let soakSeconds = ProcessInfo.processInfo.environment["SOFT_SOAK_SECONDS"].flatMap { Double($0) }
        let start = Date()
        var rng = SeededGenerator(seed: Self.seed &+ 3)
        let pools = ExecutionMode.allCases.map { ($0, InstructionCatalog.sequenceTemplates(for: $0)) }
        var round = 0
        while soakSeconds.map({ Date().timeIntervalSince(start) < $0 }) ?? (round < 300) {
            for (mode, pool) in pools {
                let length = 2 + rng.below(5)
                try runner.run((0..<length).map { _ in rng.pick(pool) }, mode: mode, rng: &rng)
            }
            round += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        print(String(format: "soak: %d cases in %.1f s, %.0f cases/s, %d instructions/s", runner.sequences, elapsed,
                     Double(runner.sequences) / elapsed, Int(Double(runner.instructionsCompared) / elapsed)))
        assertNoMismatch(runner, "random sequences")
    }
}
