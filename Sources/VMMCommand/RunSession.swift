import PCBoard
import VMMKit

/// One run of a guest: the backend chosen, the machine assembled, the signal thread standing by.
struct RunSession {
    let backend: any CPUBackend
    let machine: Machine
    let timeout: Double?
    let printsStatistics: Bool

    /// Builds the machine and chooses the backend; any failure here is a setup failure. The machine
    /// comes first so that a bad file or device is reported as such even on a host with no backend.
    init(options: VMMOptions, registry: DeviceRegistry) throws {
        let description = try options.machineDescription()
        machine = try PCBoard.assemble(description, registry: registry)
        timeout = description.timeout
        printsStatistics = options.stats
        do {
            if let name = options.backend {
                backend = try BuiltInBackends.backend(named: name)
            } else {
                let best = try BuiltInBackends.bestAvailable()
                backend = best.backend
                VMMCommandLine.printError("vmm: using the \(type(of: best.backend).name) backend (\(best.reason))")
            }
        } catch {
            machine.devices.forEach { $0.stop() }
            throw error
        }
    }

    /// Runs the guest to its end and returns vmm's exit status.
    func run() -> Int32 {
        let started = ContinuousClock.now
        let outcome: MachineOutcome
        do {
            let signals = try StopSignals(stopping: machine.runControl)
            defer { signals.finish() }
            outcome = try machine.run(on: backend, timeout: timeout)
        } catch {
            machine.devices.forEach { $0.stop() }
            VMMCommandLine.fail(error)
        }
        let elapsed = ContinuousClock.now - started
        if printsStatistics { VMMCommandLine.printError(statisticsReport(elapsed: elapsed)) }
        if let message = outcome.message { VMMCommandLine.printError(message) }
        return outcome.exitStatus
    }

    private func statisticsReport(elapsed: Duration) -> String {
        let milliseconds = elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000
        let fraction = String(milliseconds % 1000)
        let time = "\(milliseconds / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
        let reboots = machine.reboots > 0 ? ", rebooted \(machine.reboots) time(s)" : ""
        var lines = ["vmm: \(type(of: backend).name) backend, \(machine.vcpuCount) vCPU(s), ran for \(time)\(reboots)"]
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
