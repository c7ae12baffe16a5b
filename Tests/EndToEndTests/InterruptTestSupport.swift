#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import Synchronization
import TestSupport
import XCTest

/// How the interrupt-controller end-to-end tests run a guest: on vmm (either backend) or QEMU, with
/// serial input typed only once the guest says it is ready, and with the output reduced to what must
/// agree between machines.
enum InterruptGuests {
    /// vmm's --timeout for every run (QEMU gets the same as its watchdog): these guests finish in a
    /// few seconds, even where KVM emulates their supervisor code.
    static let timeout: Double = 30

    /// Where a guest runs.
    enum Machine: CustomStringConvertible {
        case soft
        case kvm(irqchip: String)
        case qemuTCG

        var description: String {
            switch self {
            case .soft: return "vmm --backend soft"
            case let .kvm(irqchip): return "vmm --backend kvm --irqchip \(irqchip)"
            case .qemuTCG: return "qemu-system-x86_64 -accel tcg"
            }
        }
    }

    /// One run: the guest, its command line, the vCPU count, and a line typed on COM1 once the
    /// guest prints "ready:" (QEMU drops what arrives before the guest initialised its UART).
    struct Run {
        var guest: String
        var append = ""
        var cpus = 1
        var input: String?
    }

    static let readyMarker = "ready:"

    /// Runs `run` on `machine`. QEMU must be present (see `requireQEMU`); KVM must be openable.
    static func result(of run: Run, on machine: Machine) throws -> ProcessResult {
        let kernel = try GuestKernels.path(run.guest)
        let executable: String
        let arguments: [String]
        let vmmArguments = ["--timeout", String(Int(timeout)), "--cpus", String(run.cpus), "--append", run.append, kernel]
        switch machine {
        case .soft:
            executable = try VMMBinary.path()
            arguments = ["--backend", "soft"] + vmmArguments
        case let .kvm(irqchip):
            executable = try VMMBinary.path()
            arguments = ["--backend", "kvm", "--irqchip", irqchip] + vmmArguments
        case .qemuTCG:
            guard let qemu = QEMU.executable else { throw XCTSkip(qemuMissing) }
            executable = qemu
            arguments = QEMU.kernelArguments(kernel, append: run.append, accel: "tcg") + ["-smp", String(run.cpus)]
        }
        let result = InteractiveProcess.run(executable, arguments, timeout: timeout + 15, input: run.input,
                                            after: readyMarker)
        XCTAssertFalse(result.timedOut, "\(run.guest) on \(machine) outlived its watchdog")
        return result
    }

    static let qemuMissing = "qemu-system-x86_64 is not installed: no reference run"

    static func requireQEMU() throws {
        guard QEMU.executable != nil else { throw XCTSkip(qemuMissing) }
    }

    /// The guest's serial lines, with QEMU's firmware banner cut off and the "info:" lines masked:
    /// those report measurements (timer counts, calibrations) that differ between runs and machines.
    static func comparableLines(_ output: String, firstLine: Substring) -> [String] {
        EndToEnd.maskingLoaderDetails(EndToEnd.guestOutput(ofQEMU: output, startingWith: firstLine)).map { line in
            line.hasPrefix("info:") ? "info: <measurement>" : line
        }
    }

    /// Runs each of `runs` on the Soft backend and then under QEMU TCG: each must pass (status 1),
    /// and their serial output must agree line by line apart from measurements. Skips after the Soft
    /// runs when QEMU is missing. Returns the Soft runs' results.
    @discardableResult
    static func checkAgainstQEMU(_ runs: Run..., file: StaticString = #filePath, line: UInt = #line) throws
        -> [ProcessResult]
    {
        let softResults = try runs.map { run in
            let soft = try result(of: run, on: .soft)
            XCTAssertEqual(soft.status, 1, "\(run.guest) \(run.append) on soft: \(soft.standardOutput)\(soft.standardError)",
                           file: file, line: line)
            XCTAssertTrue(soft.standardOutput.hasSuffix("PASS\n"), soft.standardOutput, file: file, line: line)
            return soft
        }
        try requireQEMU()
        for (run, soft) in zip(runs, softResults) {
            let qemu = try result(of: run, on: .qemuTCG)
            XCTAssertEqual(qemu.status, 1, "\(run.guest) \(run.append) under QEMU: \(qemu.standardOutput)\(qemu.standardError)",
                           file: file, line: line)
            let first = soft.standardOutput.split(separator: "\n").first ?? ""
            XCTAssertEqual(comparableLines(soft.standardOutput, firstLine: first),
                           comparableLines(qemu.standardOutput, firstLine: first),
                           "\(run.guest) \(run.append): serial output of vmm (soft) and QEMU (TCG) differ", file: file, line: line)
        }
        return softResults
    }
}

/// A child process whose standard input gets `input` only after `marker` appeared on its standard
/// output, so a guest is typed to when it listens. Killed (SIGTERM, then SIGKILL) after `timeout`.
enum InteractiveProcess {
    static func run(_ executable: String, _ arguments: [String], timeout: Double, input: String?,
                    after marker: String) -> ProcessResult {
        // A child that exits before reading its input must not kill the test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe(), typed = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input == nil ? FileHandle.nullDevice : typed
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            return ProcessResult(standardOutput: "", standardError: "cannot run \(executable): \(error)", status: 127,
                                 timedOut: false)
        }
        let collected = Collected()
        let readers = DispatchGroup()
        DispatchQueue.global().async(group: readers) {
            var typedYet = input == nil
            while true {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                let soFar = collected.appendOutput(chunk)
                if !typedYet, let input, String(decoding: soFar, as: UTF8.self).contains(marker) {
                    typedYet = true
                    try? typed.fileHandleForWriting.write(contentsOf: Data(input.utf8))
                }
            }
        }
        DispatchQueue.global().async(group: readers) {
            collected.setErrors(errors.fileHandleForReading.readDataToEndOfFile())
        }
        let timedOut = HostProcess.waitForExit(process, finished: finished, timeout: timeout)
        try? typed.fileHandleForWriting.close()
        _ = readers.wait(timeout: .now() + 5)
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus
                                                                  : process.terminationStatus
        return ProcessResult(standardOutput: String(decoding: collected.output, as: UTF8.self),
                             standardError: String(decoding: collected.errors, as: UTF8.self),
                             status: status, timedOut: timedOut)
    }

    /// What the reader threads gathered.
    private final class Collected: Sendable {
        private let state = Mutex((output: Data(), errors: Data()))

        /// Appends `chunk` to the output and returns all output so far.
        func appendOutput(_ chunk: Data) -> Data {
            state.withLock { state in
                state.output.append(chunk)
                return state.output
            }
        }

        func setErrors(_ data: Data) { state.withLock { $0.errors = data } }
        var output: Data { state.withLock { $0.output } }
        var errors: Data { state.withLock { $0.errors } }
    }
}
