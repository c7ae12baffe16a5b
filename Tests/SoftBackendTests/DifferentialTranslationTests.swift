import Foundation
import XCTest

/// The block translator against the host CPU: random sequences of translatable and untranslatable
/// forms, forward branches, loops and self-modifying code, each run whole in a few passes with every
/// block translated at first sight and compared only at the end (see TranslatingSoftSubject and
/// TranslationDifferentialRunner); as 64-bit code, and as 32-bit code (flat protected mode on the
/// Soft CPU, compatibility mode on the host). Seeds are fixed so a failure reproduces; SOFT_DIFF_SEED picks
/// others, SOFT_JIT_CASES another case count (a soak).
final class DifferentialTranslationTests: XCTestCase {
    static let seed = ProcessInfo.processInfo.environment["SOFT_DIFF_SEED"].flatMap { UInt64($0) } ?? 0x5eed_0001
    static let caseCount = ProcessInfo.processInfo.environment["SOFT_JIT_CASES"].flatMap { Int($0) } ?? 1000
    /// Far above what the cases take; a translated loop that never ends would be caught here.
    static let watchdogSeconds = 120.0
    /// At least this share of what the warm pass retires (every block met before, the TLB filled) must
    /// run as host code, or the test proves little; the other passes must run some.
    static let minimumNativeShare = 0.5

    func testTranslatedBlocksMatchTheHostCPU() throws {
        try check(.long64)
    }

    func testTranslated32BitBlocksMatchTheHostCPU() throws {
        try check(.protected32)
    }

    private func check(_ mode: ExecutionMode) throws {
        guard try TranslatingSoftSubject().translationAvailable() else {
            throw XCTSkip("the block translator is unavailable on this host (needs x86-64 with LAHF/SAHF in 64-bit mode and executable memory)")
        }
        // The oracle's signal handlers run on the alternate stack of the thread that opened it: one
        // thread of our own does everything (dispatch's workers block the oracle's launch signal), and
        // the test waits for it under the watchdog.
        let outcome = WorkerOutcome()
        let done = DispatchSemaphore(value: 0)
        let start = Date()
        Thread {
            outcome.result = Result { try Self.runCases(mode) }
            done.signal()
        }.start()
        guard done.wait(timeout: .now() + Self.watchdogSeconds) == .success else {
            return XCTFail("watchdog: the cases did not finish in \(Self.watchdogSeconds) s")
        }
        let runner = try XCTUnwrap(outcome.result).get()
        print("differential translation of \(mode.rawValue) code (seed \(Self.seed)) " + String(format: "in %.1f s: ", Date().timeIntervalSince(start))
            + runner.summary)
        XCTAssertEqual(runner.cases, Self.caseCount)
        XCTAssertGreaterThan(runner.total.translatedBlocks, 0, "no block was translated")
        for pass in TranslatingSoftSubject.Pass.allCases {
            XCTAssertGreaterThan(runner.byPass[pass]?.native ?? 0, 0, "nothing ran as translated code in the \(pass) pass")
        }
        let warm = runner.byPass[.warm] ?? .init()
        XCTAssertGreaterThanOrEqual(warm.nativeShare, Self.minimumNativeShare,
                                    "only \(warm.native) of \(warm.retired) instructions of the warm pass ran as translated code")
        XCTAssertTrue(runner.failures.isEmpty, runner.failures.prefix(10).joined(separator: "\n") + "\n" + runner.summary)
    }

    private static func runCases(_ mode: ExecutionMode) throws -> TranslationDifferentialRunner {
        let runner = TranslationDifferentialRunner(oracle: try NativeOracle(), subject: try TranslatingSoftSubject())
        var generator = TranslationCaseGenerator(seed: seed, mode: mode)
        for index in 0..<caseCount { try runner.run(generator.make(), label: "case \(index) of seed \(seed)") }
        return runner
    }
}

/// The worker thread's result: written by it before it signals, read by the test only after the signal
/// (the semaphore orders the two), and kept alive by the thread if the watchdog gives up on it.
private final class WorkerOutcome: @unchecked Sendable {
    var result: Result<TranslationDifferentialRunner, Error>?
}
