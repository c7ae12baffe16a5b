import Synchronization
import VMMKit

/// The exit statistics `--stats` prints at the end of a run and Ctrl-A s prints during one: the
/// backend, the run time so far, and the counters summed over every vCPU.
final class StatisticsReport: @unchecked Sendable {
    /// The machine outlives every caller: the session and the console's input thread, which ends
    /// when COM1 stops.
    private unowned let machine: Machine
    private let backendName: String
    private let started = Mutex(ContinuousClock.now)

    init(machine: Machine, backend: any CPUBackend) {
        self.machine = machine
        backendName = type(of: backend).name
    }

    /// The run time counts from here.
    func runStarted() { started.withLock { $0 = .now } }

    func text() -> String {
        let elapsed = ContinuousClock.now - started.withLock { $0 }
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let fraction = String(milliseconds % 1000)
        let time = "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
        var lines = ["vmm: \(backendName) backend, \(machine.vcpuCount) vCPU(s), ran for \(time)"]
        // Instruction counts only mean something for backends that count them (the Soft CPU).
        let rows = machine.statistics.filter {
            $0.1 > 0 || ($0.0 != ExitStatistics.instructionsRetiredRow && $0.0 != ExitStatistics.instructionsTranslatedRow)
        }
        let width = rows.map(\.0.count).max() ?? 0
        for (name, count) in rows {
            lines.append("  \(name)\(String(repeating: " ", count: width - name.count))  \(count)")
        }
        // Backends that count guest instructions (the Soft CPU) also get a rate over the whole run.
        if let retired = rows.first(where: { $0.0 == ExitStatistics.instructionsRetiredRow })?.1, retired > 0,
           milliseconds > 0 {
            lines.append("  guest instructions/s  \(retired * 1000 / UInt64(milliseconds) / 1_000_000) M")
        }
        return lines.joined(separator: "\n")
    }
}
