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
public final class ConsoleOutput: ByteSink, Sendable {
    enum Destination {
        case fileDescriptor(Int32, closeWhenDone: Bool, unbuffered: Bool)
        case discard
        case memory
    }

    private struct Buffered {
        var pending: [UInt8] = []
        var captured: [UInt8] = []
        var closed = false
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
        ConsoleOutput(.fileDescriptor(STDOUT_FILENO, closeWhenDone: false, unbuffered: isatty(STDOUT_FILENO) == 1))
    }

    /// Output dropped.
    public static func discard() -> ConsoleOutput { ConsoleOutput(.discard) }

    /// Output kept in memory; read it back with `capturedBytes` / `capturedText`.
    public static func memory() -> ConsoleOutput { ConsoleOutput(.memory) }

    /// Output to the file at `path`, created or truncated.
    public static func file(_ path: String) throws(HostIOError) -> ConsoleOutput {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw .cannotOpenOutput(path: path, errno: errno) }
        return ConsoleOutput(.fileDescriptor(descriptor, closeWhenDone: true, unbuffered: false))
    }

    /// Everything written so far, for `.memory()` outputs.
    public var capturedBytes: [UInt8] { state.withLock { $0.captured } }
    public var capturedText: String { String(decoding: capturedBytes, as: UTF8.self) }

    public func write(_ byte: UInt8) {
        switch destination {
        case .discard:
            return
        case .memory:
            state.withLock { $0.captured.append(byte) }
        case let .fileDescriptor(descriptor, _, unbuffered):
            state.withLock { buffered in
                buffered.pending.append(byte)
                if unbuffered || byte == UInt8(ascii: "\n") || buffered.pending.count >= Self.bufferLimit {
                    Self.drain(&buffered.pending, to: descriptor)
                }
            }
        }
    }

    /// Writes out what is buffered.
    public func flush() {
        guard case let .fileDescriptor(descriptor, _, _) = destination else { return }
        state.withLock { Self.drain(&$0.pending, to: descriptor) }
    }

    /// Flushes, and closes a file this output opened.
    public func close() {
        flush()
        guard case let .fileDescriptor(descriptor, closeWhenDone, _) = destination, closeWhenDone else { return }
        let first = state.withLock { buffered -> Bool in
            defer { buffered.closed = true }
            return !buffered.closed
        }
        if first { Glibc.close(descriptor) }
    }

    /// A short write or EINTR is retried; any other failure (a closed pipe, a full disk) drops the
    /// output rather than stall or kill the guest.
    private static func drain(_ pending: inout [UInt8], to descriptor: Int32) {
        pending.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(descriptor, base + offset, bytes.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0, errno == EINTR {
                    continue
                } else {
                    break
                }
            }
        }
        pending.removeAll(keepingCapacity: true)
    }
}
