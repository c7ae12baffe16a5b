import Synchronization
import VMMKit

/// The exit statistics `--stats` prints at the end of a run and Ctrl-A s prints during one, and
/// `--stats-file` writes as JSON: per exit reason, the total, the rate per second of the run and
/// each vCPU's count; then the port and MMIO accesses by device.
final class StatisticsReport: @unchecked Sendable {
    /// One line of the table: a name and its count per vCPU.
    struct Row {
        let name: String
        let perVCPU: [UInt64]
        var total: UInt64 { perVCPU.reduce(0, &+) }
    }

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

    private var seconds: Double {
        let elapsed = ContinuousClock.now - started.withLock { $0 }
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }

    /// Rows left out when zero: instructions, on backends that do not count them, and doorbells rung
    /// on the vCPU's thread, which KVM's doorbells never are.
    private static let printedWhenCounted: Set<String> = [
        ExitStatistics.instructionsRetiredRow, ExitStatistics.instructionsTranslatedRow, ExitStatistics.doorbellsRow,
    ]

    /// Exit reasons, without the rows that mean nothing on this backend.
    private var exitRows: [Row] {
        let perVCPU = machine.statisticsPerVCPU
        guard let first = perVCPU.first else { return [] }
        return first.indices.map { row in Row(name: first[row].0, perVCPU: perVCPU.map { $0[row].1 }) }
            .filter { $0.total > 0 || !Self.printedWhenCounted.contains($0.name) }
    }

    /// Each doorbell's rings as its device's thread took them, on either backend (on KVM the only
    /// count: the vCPU never sees them); one figure per doorbell, not per vCPU.
    private var doorbellRows: [Row] {
        (machine.ports.doorbells.doorbells + machine.mmio.doorbells.doorbells)
            .map { Row(name: $0.name, perVCPU: [$0.rings]) }.filter { $0.total > 0 }
    }

    private func deviceRows(_ bus: IOBus) -> [Row] {
        bus.accessesByClaim.map { Row(name: $0.name, perVCPU: $0.perVCPU) }.filter { $0.total > 0 }
    }

    func text() -> String {
        let seconds = seconds
        let vcpus = machine.vcpuCount
        var table: [[String]] = [["", "total", "per second"] + (vcpus > 1 ? (0..<vcpus).map { "vCPU \($0)" } : [])]
        func add(_ rows: [Row]) {
            for row in rows {
                let rate = seconds > 0 ? UInt64(Double(row.total) / seconds) : 0
                table.append(["  " + row.name, Self.grouped(row.total), Self.grouped(rate)]
                    + (vcpus > 1 && row.perVCPU.count == vcpus ? row.perVCPU.map(Self.grouped) : []))
            }
        }
        add(exitRows)
        for (title, rows) in [("port I/O by device", deviceRows(machine.ports)), ("MMIO by device", deviceRows(machine.mmio)),
                              ("doorbells by device", doorbellRows)] {
            guard !rows.isEmpty else { continue }
            table.append([title])
            add(rows)
        }
        let widths = (0..<table[0].count).map { column in table.map { $0.count > column ? $0[column].count : 0 }.max() ?? 0 }
        let lines = table.map { cells in
            cells.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column == 0 ? cell + pad : pad + cell
            }.joined(separator: "  ").trimmingTrailingSpaces
        }
        let reboots = machine.reboots > 0 ? ", rebooted \(machine.reboots) time(s)" : ""
        let header = "vmm: \(backendName) backend, \(vcpus) vCPU(s), ran for \(Self.threeDecimals(seconds)) s\(reboots)"
        return ([header] + lines).joined(separator: "\n")
    }

    /// The same figures as JSON, for scripts.
    func json() -> String {
        func object(_ rows: [Row]) -> String {
            "{" + rows.map { "\(Self.quoted($0.name)): {\"total\": \($0.total), \"per_vcpu\": [\($0.perVCPU.map(String.init).joined(separator: ", "))]}" }
                .joined(separator: ", ") + "}"
        }
        return "{\"backend\": \(Self.quoted(backendName)), \"vcpus\": \(machine.vcpuCount), "
            + "\"seconds\": \(Self.threeDecimals(seconds)), \"reboots\": \(machine.reboots), \"exits\": \(object(exitRows)), "
            + "\"port_io_by_device\": \(object(deviceRows(machine.ports))), "
            + "\"mmio_by_device\": \(object(deviceRows(machine.mmio))), "
            + "\"doorbells_by_device\": \(object(doorbellRows))}\n"
    }

    /// Seconds with three decimals, without Foundation's String(format:).
    static func threeDecimals(_ value: Double) -> String {
        let thousandths = UInt64((max(value, 0) * 1000).rounded())
        let fraction = String(thousandths % 1000)
        return "\(thousandths / 1000)." + String(repeating: "0", count: 3 - fraction.count) + fraction
    }

    /// 1234567 as "1,234,567".
    static func grouped(_ value: UInt64) -> String {
        let digits = Array(String(value))
        return digits.enumerated().map { index, digit in
            (index > 0 && (digits.count - index) % 3 == 0 ? "," : "") + String(digit)
        }.joined()
    }

    private static func quoted(_ text: String) -> String {
        "\"" + text.unicodeScalars.map { scalar -> String in
            switch scalar {
            case "\"": return "\\\""
            case "\\": return "\\\\"
            case _ where scalar.value < 0x20: return "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                + String(scalar.value, radix: 16)
            default: return String(scalar)
            }
        }.joined() + "\""
    }
}

private extension String {
    var trimmingTrailingSpaces: String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
