#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// A byte sink on the host: a file descriptor (stdout or a file), nowhere, or memory (for tests
/// and embedders). A UART's transmitter writes the guest's console output here.
///
/// File and pipe output is buffered and written on a newline, when the buffer fills, or on
/// `flush()`, so a guest printing byte by byte costs one write(2) per line rather than per byte.
/// A terminal gets every byte at once instead: a prompt that ends without a newline must show.
///
/// A write that fails (a full disk, a closed pipe) does not stall or stop the guest: the output is
/// dropped from then on, the first failure is reported once on stderr, and `lostBytes` counts what
/// was dropped so the command line can make the run's status say so.
public final class ConsoleOutput: ByteSink, Sendable {
    enum Destination {
        case fileDescriptor(Int32, name: String, closeWhenDone: Bool, unbuffered: Bool)
        case discard
        case memory
    }

    private struct Buffered {
        var pending: [UInt8] = []
        var captured: [UInt8] = []
        var closed = false
        var lost = 0
        var failure: String?
    }

    private static let bufferLimit = 4096
    private let destination: Destination
    private let state = Mutex(Buffered())

    init(_ destination: Destination) {
        self.destination = destination
        state.withLock { $0.pending.reserveCapacity(Self.bufferLimit) }
    }

    /// Output to the process's standard output.
    public static func standardOutput() -> ConsoleOutput {
        ConsoleOutput(.fileDescriptor(STDOUT_FILENO, name: "standard output", closeWhenDone: false,
                                      unbuffered: isatty(STDOUT_FILENO) == 1))
    }

    /// Output dropped.
    public static func discard() -> ConsoleOutput { ConsoleOutput(.discard) }

    /// Output kept in memory; read it back with `capturedBytes` / `capturedText`.
    public static func memory() -> ConsoleOutput { ConsoleOutput(.memory) }

    /// Output to the file at `path`, created or truncated.
    public static func file(_ path: String) throws(HostIOError) -> ConsoleOutput {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotOpenOutput(path: path, errno: errno) }
        return ConsoleOutput(.fileDescriptor(descriptor, name: "'\(path)'", closeWhenDone: true, unbuffered: false))
    }

    /// Bytes the guest sent that could not be written, and why the first write failed.
    public var lostBytes: Int { state.withLock { $0.lost } }
    public var failure: String? { state.withLock { $0.failure } }

    /// Everything written so far, for `.memory()` outputs.
    public var capturedBytes: [UInt8] { state.withLock { $0.captured } }
    public var capturedText: String { String(decoding: capturedBytes, as: UTF8.self) }

    public func write(_ byte: UInt8) {
        switch destination {
        case .discard:
            return
        case .memory:
            state.withLock { $0.captured.append(byte) }
        case let .fileDescriptor(descriptor, name, _, unbuffered):
            let failure = state.withLock { buffered -> String? in
                guard buffered.failure == nil else {
                    buffered.lost += 1
                    return nil
                }
                buffered.pending.append(byte)
                guard unbuffered || byte == UInt8(ascii: "\n") || buffered.pending.count >= Self.bufferLimit else { return nil }
                return Self.drain(&buffered, to: descriptor, name: name)
            }
            if let failure { Self.report(failure) }
        }
    }

    /// Writes out what is buffered.
    public func flush() {
        guard case let .fileDescriptor(descriptor, name, _, _) = destination else { return }
        if let failure = state.withLock({ Self.drain(&$0, to: descriptor, name: name) }) { Self.report(failure) }
    }

    /// Flushes, and closes a file this output opened.
    public func close() {
        flush()
        guard case let .fileDescriptor(descriptor, _, closeWhenDone, _) = destination, closeWhenDone else { return }
        let first = state.withLock { buffered -> Bool in
            defer { buffered.closed = true }
            return !buffered.closed
        }
        if first { Glibc.close(descriptor) }
    }

    /// Writes the pending bytes; a short write or EINTR is retried. Any other failure drops them and
    /// all later output, and returns the message to report (only the first failure has one).
    private static func drain(_ buffered: inout Buffered, to descriptor: Int32, name: String) -> String? {
        guard buffered.failure == nil else { return nil }
        let unwritten = buffered.pending.withUnsafeBytes { bytes -> Int in
            guard let base = bytes.baseAddress else { return 0 }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    buffered.failure = written < 0 ? String(cString: strerror(errno)) : "nothing written"
                    break
                }
            }
            return bytes.count - offset
        }
        buffered.pending.removeAll(keepingCapacity: true)
        guard let failure = buffered.failure else { return nil }
        buffered.lost += unwritten
        return "vmm: writing the guest's console output to \(name) failed (\(failure)); further output is lost"
    }

    /// One line on stderr, outside the lock.
    private static func report(_ line: String) {
        var text = line + "\n"
        text.withUTF8 { _ = Glibc.write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
