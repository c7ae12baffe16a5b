/// The differences between the oracle's observation and the subject's, each a failure: the Soft CPU
/// takes even what the SDM leaves undefined from the host CPU.
struct Differences {
    var defined: [String] = []

    var isEmpty: Bool { defined.isEmpty }

    init(oracle: Observation, subject: Observation, mode: ExecutionMode) {
        if !Self.sameOutcome(oracle.result, subject.result) {
            defined.append("outcome: oracle=\(oracle.result) soft=\(subject.result)")
        }
        let mask = mode.registerMask
        for index in 0..<mode.registerCount {
            let expected = oracle.state.gpr[index] & mask, actual = subject.state.gpr[index] & mask
            guard expected != actual else { continue }
            let line = "\(MachineState.registerNames[index]): oracle=\(hex(expected)) soft=\(hex(actual))"
            defined.append(line)
        }
        if oracle.state.rip & mask != subject.state.rip & mask {
            defined.append("rip: oracle=\(hex(oracle.state.rip & mask)) soft=\(hex(subject.state.rip & mask))")
        }
        for (bit, name) in Flag.names where oracle.state.rflags & bit != subject.state.rflags & bit {
            let line = "rflags.\(name): oracle=\(oracle.state.rflags & bit == 0 ? 0 : 1) soft=\(subject.state.rflags & bit == 0 ? 0 : 1)"
            defined.append(line)
        }
        for index in 0..<mode.registerCount * 2 where oracle.state.xmm[index] != subject.state.xmm[index] {
            defined.append("xmm\(index / 2).\(index % 2 == 0 ? "low" : "high"): oracle=\(hex(oracle.state.xmm[index])) soft=\(hex(subject.state.xmm[index]))")
        }
        if oracle.state.mxcsr != subject.state.mxcsr {
            defined.append("mxcsr: oracle=\(hex(UInt64(oracle.state.mxcsr))) soft=\(hex(UInt64(subject.state.mxcsr)))")
        }
        compareData(oracle.data, subject.data)
    }

    private mutating func compareData(_ expected: [UInt8], _ actual: [UInt8]) {
        guard expected != actual else { return }
        let differing = expected.indices.filter { expected[$0] != actual[$0] }
        guard !differing.isEmpty else { return }
        let described = differing.prefix(8).map { "+\(hex(UInt64($0))): oracle=\(hex(UInt64(expected[$0]))) soft=\(hex(UInt64(actual[$0])))" }
            .joined(separator: ", ") + (differing.count > 8 ? " (\(differing.count) bytes)" : "")
        defined.append("data page \(described)")
    }

    /// Vector always; the error code only where the vector defines one (SDM vol. 3, 6.13),
    /// without the U/S bit of a page-fault code: the oracle runs at CPL 3, the Soft CPU at CPL 0.
    static func sameOutcome(_ oracle: StepResult, _ subject: StepResult) -> Bool {
        switch (oracle, subject) {
        case (.completed, .completed): return true
        case let (.exception(vector, code), .exception(otherVector, otherCode)):
            guard vector == otherVector else { return false }
            guard [8, 10, 11, 12, 13, 14, 17].contains(vector) else { return true }
            let ignored: UInt32 = vector == 14 ? 4 : 0
            return (code ?? 0) & ~ignored == (otherCode ?? 0) & ~ignored
        default: return false
        }
    }
}
