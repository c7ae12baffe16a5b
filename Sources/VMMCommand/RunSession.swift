#if canImport(Glibc)
import Glibc
#endif
import GDBStub
import PCBoard
import VMMKit

/// One run of a guest: the backend chosen, the machine assembled, the signal thread standing by.
struct RunSession {
    let backend: any CPUBackend
    let machine: Machine
    let timeout: Double?
    let printsStatistics: Bool
    let report: StatisticsReport
    /// `--stats-file`, opened (created or truncated) before the run so a bad path fails the start.
    let statisticsFile: Int32?
    /// `--gdb`: listening from here on; serving while the machine runs.
    let debugServer: GDBServer?
    let waitsForDebugger: Bool

    /// Builds the machine and chooses the backend; any failure here is a setup failure. The machine
    /// comes first so that a bad file or device is reported as such even on a host with no backend.
    init(options: VMMOptions, registry: DeviceRegistry) throws {
        let description = try options.machineDescription()
        machine = try PCBoard.assemble(description, registry: registry)
        timeout = description.timeout
        printsStatistics = options.stats
        waitsForDebugger = options.gdbWait
        do {
            if options.gdbWait && options.gdb == nil { throw CommandError.usage("--gdb-wait needs --gdb ADDRESS") }
            statisticsFile = try options.statsFile.map { path throws(CommandError) in
                let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
                guard descriptor >= 0 else {
                    throw .unreadableFile(role: "statistics file", path: path, reason: String(cString: strerror(errno)))
                }
                return descriptor
            }
            if let name = options.backend {
                backend = try BuiltInBackends.backend(named: name, placement: description.interruptControllerPlacement)
            } else {
                let best = try BuiltInBackends.bestAvailable(for: description.interruptControllerPlacement)
                backend = best.backend
                VMMCommandLine.printError("vmm: using the \(type(of: best.backend).name) backend (\(best.reason))")
            }
            if let text = options.gdb {
                debugServer = try GDBServer(address: try GDBListenAddress.parse(text), target: MachineDebugTarget(machine: machine),
                                            architecture: GDBArchitecture(kernelAt: description.kernelPath))
            } else {
                debugServer = nil
            }
            let report = StatisticsReport(machine: machine, backend: backend)
            PCBoard.console(of: machine)?.update { $0.statistics = { report.text() } }
            self.report = report
        } catch {
            machine.devices.forEach { $0.stop() }
            throw error
        }
    }

    /// Runs the guest to its end and returns vmm's exit status.
    func run() -> Int32 {
        report.runStarted()
        let outcome: MachineOutcome
        do {
            let signals = try StopSignals(stopping: machine.runControl)
            defer { signals.finish() }
            if let debugServer {
                if waitsForDebugger { machine.debugControl.stopAtStart() }
                try debugServer.start()
                VMMCommandLine.printError("vmm: gdb stub listening on tcp:\(debugServer.address.host):\(debugServer.address.port)"
                    + (waitsForDebugger ? "; the guest waits for gdb to continue it" : ""))
            }
            defer { debugServer?.stop() }
            outcome = try machine.run(on: backend, timeout: timeout)
        } catch {
            machine.devices.forEach { $0.stop() }
            VMMCommandLine.fail(error)
        }
        if printsStatistics { VMMCommandLine.printError(report.text()) }
        if let statisticsFile {
            var json = report.json()
            json.withUTF8 { _ = write(statisticsFile, $0.baseAddress, $0.count) }
            close(statisticsFile)
        }
        if let message = outcome.message { VMMCommandLine.printError(message) }
        // Lost console output makes the run a failure: its log is incomplete. The guest's own
        // status is still named.
        if let output = PCBoard.consoleOutput(of: machine), output.lostBytes > 0 {
            VMMCommandLine.printError("vmm: \(output.lostBytes) bytes of the guest's console output were lost; "
                + "the guest's own exit status was \(outcome.exitStatus)")
            return MachineOutcome.failed("").exitStatus
        }
        return outcome.exitStatus
    }
}
