import Dispatch
import Foundation
import Synchronization

/// Bytes a reader thread hands back to the waiting one.
private final class Captured: Sendable {
    private let data = Mutex(Data())
    func set(_ value: Data) { data.withLock { $0 = value } }
    func get() -> Data { data.withLock { $0 } }
}

/// Runs host programs (make, QEMU, vmm) for tests, with a watchdog so none can hang a test run.
public enum HostProcess {
    /// Waits for `process` (whose termination handler signals `finished`) for `timeout` seconds,
    /// then stops it with SIGTERM and, 2 s later, SIGKILL. True if it had to be stopped.
    public static func waitForExit(_ process: Process, finished: DispatchSemaphore, timeout: Double) -> Bool {
        guard finished.wait(timeout: .now() + timeout) == .timedOut else { return false }
        process.terminate()
        if finished.wait(timeout: .now() + 2) == .timedOut {
            kill(process.processIdentifier, SIGKILL)
            finished.wait()
        }
        return true
    }

    /// Runs `executable` (a path, or a name looked up in PATH) with `arguments`, feeding
    /// `standardInput` (or /dev/null), and kills it (SIGTERM, then SIGKILL) after `timeout` seconds.
    public static func run(_ executable: String, _ arguments: [String], timeout: Double,
                           standardInput: String? = nil) -> ProcessResult {
        let process = Process()
        if executable.contains("/") {
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = arguments
        } else {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [executable] + arguments
        }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        let input = standardInput.map { _ in Pipe() }
        process.standardInput = input ?? FileHandle.nullDevice
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do {
            try process.run()
        } catch {
            return ProcessResult(standardOutput: "", standardError: "cannot run \(executable): \(error)",
                                 status: 127, timedOut: false)
        }

        // Drain both pipes while the child runs, so it never blocks on a full pipe.
        let readers = DispatchGroup()
        let outputData = Captured(), errorData = Captured()
        DispatchQueue.global().async(group: readers) { outputData.set(output.fileHandleForReading.readDataToEndOfFile()) }
        DispatchQueue.global().async(group: readers) { errorData.set(errors.fileHandleForReading.readDataToEndOfFile()) }
        if let input, let standardInput {
            DispatchQueue.global().async {
                input.fileHandleForWriting.write(Data(standardInput.utf8))
                try? input.fileHandleForWriting.close()
            }
        }

        let timedOut = waitForExit(process, finished: finished, timeout: timeout)
        // A grandchild holding the pipes open must not hang us either.
        _ = readers.wait(timeout: .now() + 5)
        let status = process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus
                                                                  : process.terminationStatus
        return ProcessResult(standardOutput: String(decoding: outputData.get(), as: UTF8.self),
                             standardError: String(decoding: errorData.get(), as: UTF8.self),
                             status: status, timedOut: timedOut)
    }
}
