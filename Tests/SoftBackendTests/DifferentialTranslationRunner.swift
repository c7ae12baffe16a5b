import Foundation

/// Runs whole-block cases on the oracle and on the Soft CPU with translation on (each pass of
/// `TranslatingSoftSubject`), compares the final state (every general register, RIP, all status flags
/// and DF, the XMM registers, the data page: translated code computes flags on the host, so even the
/// SDM's undefined flags must come out as the oracle's), and keeps the tallies and mismatch reports.
final class TranslationDifferentialRunner {
    /// What the Soft CPU retired in one kind of pass, and how much of it as translated code.
    struct Tally {
        var retired: UInt64 = 0
        var native: UInt64 = 0
        var translatedBlocks = 0

        var nativeShare: Double { Double(native) / Double(max(retired, 1)) }

        mutating func add(_ run: TranslatingSoftSubject.Run) {
            retired += run.retired
            native += run.native
            translatedBlocks += run.translatedBlocks
        }
    }

    let oracle: NativeOracle
    let subject: TranslatingSoftSubject
    private(set) var cases = 0
    private(set) var pieces = 0
    private(set) var total = Tally()
    private(set) var byPass: [TranslatingSoftSubject.Pass: Tally] = [:]
    private(set) var failures: [String] = []

    init(oracle: NativeOracle, subject: TranslatingSoftSubject) {
        self.oracle = oracle
        self.subject = subject
    }

    func run(_ testCase: TranslationCase, label: String) throws {
        let (code, ranges) = testCase.assemble()
        cases += 1
        pieces += testCase.pieces.count
        let expected = try oracle.run(code: code, mode: testCase.mode, state: testCase.state, data: testCase.data)
        let end = DifferentialLayout.codeAddress + UInt64(code.count)
        guard expected.result == .completed, expected.state.rip == end else {
            // The generator's promise (every case runs to its end) is broken: a test bug, reported alike.
            failures.append(report(testCase, label: label, code: code, ranges: ranges, run: nil,
                                   differences: ["oracle: \(expected.result) at \(hex(expected.state.rip)), not the end \(hex(end))"]))
            return
        }
        let (runs, interpreted) = try subject.run(code: code, state: testCase.state, data: testCase.data,
                                                  budget: testCase.budget, mode: testCase.mode)
        for run in runs {
            total.add(run)
            byPass[run.pass, default: Tally()].add(run)
            var differences = Differences(oracle: expected, subject: run.observation, mode: testCase.mode).defined
            // Every pass runs the same instructions: translated code must count them as the interpreter does.
            if run.retired != runs[0].retired {
                differences.append("retired: \(runs[0].pass) pass=\(runs[0].retired) this pass=\(run.retired)")
            }
            differences += run.overshoots.prefix(4)
            differences += Self.fullStateDifferences(interpreted: interpreted, translated: run.observation)
            if !differences.isEmpty {
                failures.append(report(testCase, label: label, code: code, ranges: ranges, run: run, differences: differences))
            }
        }
    }

    /// Every register bit, RIP, the compared flags, the XMM registers and the data page: the same instructions leave the
    /// same state whether translated or not.
    static func fullStateDifferences(interpreted: Observation, translated: Observation) -> [String] {
        var differences: [String] = []
        if interpreted.result != translated.result {
            differences.append("outcome: interpreted=\(interpreted.result) translated=\(translated.result)")
        }
        for index in 0..<16 where interpreted.state.gpr[index] != translated.state.gpr[index] {
            differences.append("\(MachineState.registerNames[index]) (all 64 bits): interpreted=\(hex(interpreted.state.gpr[index]))"
                + " translated=\(hex(translated.state.gpr[index]))")
        }
        if interpreted.state.rip != translated.state.rip {
            differences.append("rip: interpreted=\(hex(interpreted.state.rip)) translated=\(hex(translated.state.rip))")
        }
        let flags = Flag.compared
        if interpreted.state.rflags & flags != translated.state.rflags & flags {
            differences.append("rflags: interpreted=\(hex(interpreted.state.rflags & flags)) translated=\(hex(translated.state.rflags & flags))")
        }
        for index in 0..<32 where interpreted.state.xmm[index] != translated.state.xmm[index] {
            differences.append("xmm\(index / 2).\(index % 2 == 0 ? "low" : "high"): interpreted=\(hex(interpreted.state.xmm[index]))"
                + " translated=\(hex(translated.state.xmm[index]))")
        }
        if interpreted.data != translated.data { differences.append("data page: interpreted and translated differ") }
        return differences
    }

    private func report(_ testCase: TranslationCase, label: String, code: [UInt8], ranges: [Range<Int>],
                        run: TranslatingSoftSubject.Run?, differences: [String]) -> String {
        var lines = ["MISMATCH [translated \(testCase.mode.rawValue) block] \(label)" + (run.map { ", \($0.pass) pass" } ?? "")
            + ": \(testCase.pieces.count) pieces, budget \(testCase.budget)"
            + (run.map { ", retired \($0.retired) (\($0.native) natively, \($0.translatedBlocks) blocks translated)" } ?? "")]
        for (index, piece) in testCase.pieces.enumerated() {
            lines.append("  \(index) +\(hex(UInt64(ranges[index].lowerBound))): \(piece.description)  \(hex(bytes: Array(code[ranges[index]])))")
        }
        lines.append("  code: \(hex(bytes: code))")
        lines.append("  input: \(testCase.state.described(mode: testCase.mode))")
        lines += differences.map { "  differs: \($0)" }
        return lines.joined(separator: "\n")
    }

    var summary: String {
        var lines = ["\(cases) cases, \(pieces) pieces; \(failures.count) mismatches"]
        for (name, tally) in [("all passes", total)] + TranslatingSoftSubject.Pass.allCases.map({ ($0.rawValue, byPass[$0] ?? Tally()) }) {
            lines.append("  \(name): \(tally.retired) instructions retired, \(tally.native) natively "
                + String(format: "(%.1f%%)", 100 * tally.nativeShare) + ", \(tally.translatedBlocks) blocks translated")
        }
        return lines.joined(separator: "\n")
    }
}
