import CPseudoTerminal
import Dispatch
import Foundation
import Synchronization

/// A program run on a pseudo-terminal, as a user at a terminal runs it: its stdin and stdout are the
/// terminal's slave side, the test types into the master side and reads what the program printed.
/// stderr is a pipe of its own. Every wait has a watchdog, so a hung program fails the test.
public final class TerminalSession: @unchecked Sendable {
    public let process = Process()
    private let master: Int32
    private let slave: Int32
    private let errors = Pipe()
    private let finished = DispatchSemaphore(value: 0)
    private let screen = Mutex([UInt8]())
    private let errorBytes = Mutex(Data())
    private let readers = DispatchGroup()

    public init(_ executable: String, _ arguments: [String]) throws {
        var path = [CChar](repeating: 0, count: 256)
        master = vmm_test_open_pseudo_terminal(&path, path.count)
        guard master >= 0 else {
            throw TestSupportError.guestBuildFailed("no pseudo-terminal: \(String(cString: strerror(errno)))")
        }
        slave = open(String(cString: path), O_RDWR | O_NOCTTY)
        guard slave >= 0 else { throw TestSupportError.guestBuildFailed("cannot open the terminal's slave side") }
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let terminal = FileHandle(fileDescriptor: slave, closeOnDealloc: false)
        process.standardInput = terminal
        process.standardOutput = terminal
        process.standardError = errors
        process.terminationHandler = { [finished] _ in finished.signal() }
        try process.run()
        DispatchQueue.global().async(group: readers) { [self] in readScreen() }
        DispatchQueue.global().async(group: readers) { [self] in
            let data = errors.fileHandleForReading.readDataToEndOfFile()
            errorBytes.withLock { $0 = data }
        }
    }

    deinit {
        close(master)
        close(slave)
    }

    /// The terminal's settings now, for checking that the program put them back (read through the
    /// master side, which reports the slave's settings, so this works after the slave is closed).
    public var attributes: termios {
        var settings = termios()
        tcgetattr(master, &settings)
        return settings
    }

    /// Types `bytes` at the terminal.
    public func type(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { write(master, $0.baseAddress, $0.count) }
    }

    /// Waits up to `timeout` seconds until the screen shows `text`; true if it did.
    public func waitForScreen(containing text: String, timeout: Double = 120) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if screenText.contains(text) { return true }
            usleep(20_000)
        }
        return false
    }

    public var screenText: String { String(decoding: screen.withLock { $0 }, as: UTF8.self) }

    /// Waits for the program to end (SIGKILL after `timeout` seconds) and returns its status and
    /// what it wrote on stderr.
    public func waitForExit(timeout: Double = 120) -> (status: Int32, standardError: String, timedOut: Bool) {
        let timedOut = HostProcess.waitForExit(process, finished: finished, timeout: timeout)
        // The master side reads EIO once no process holds the slave open; ours is closed here.
        close(slave)
        readers.wait()
        return (process.terminationStatus, String(decoding: errorBytes.withLock { $0 }, as: UTF8.self), timedOut)
    }

    private func readScreen() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(master, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return }
            screen.withLock { $0 += buffer[0..<count] }
        }
    }
}
