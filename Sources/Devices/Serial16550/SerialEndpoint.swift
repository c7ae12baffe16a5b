#if canImport(Glibc)
import Glibc
#endif

/// What the guest's serial port is connected to on the host, as `--serial` names it.
public enum SerialEndpoint: Equatable, Sendable, CustomStringConvertible {
    /// Output to stdout; input from stdin (a terminal in raw mode, or a pipe).
    case stdio
    /// Output to a file, no input.
    case file(String)
    /// Output discarded, no input.
    case none
    /// An output the embedder made, such as `SerialOutput.memory()` to capture what a guest prints;
    /// no input.
    case output(SerialOutput)

    /// Parses `stdio`, `file:PATH` or `none`.
    public init(parsing text: String) throws(SerialError) {
        switch text {
        case "stdio": self = .stdio
        case "none": self = .none
        default:
            guard text.hasPrefix("file:"), text.count > 5 else { throw .badEndpoint(text) }
            self = .file(String(text.dropFirst(5)))
        }
    }

    public var description: String {
        switch self {
        case .stdio: return "stdio"
        case let .file(path): return "file:\(path)"
        case .none: return "none"
        case .output: return "output"
        }
    }

    public static func == (lhs: SerialEndpoint, rhs: SerialEndpoint) -> Bool {
        switch (lhs, rhs) {
        case (.stdio, .stdio), (.none, .none): return true
        case let (.file(a), .file(b)): return a == b
        case let (.output(a), .output(b)): return a === b
        default: return false
        }
    }

    /// The output side of this connection, opening a file if it names one.
    public func makeOutput() throws(SerialError) -> SerialOutput {
        switch self {
        case .stdio: return .standardOutput()
        case let .file(path): return try .file(path)
        case .none: return .discard()
        case let .output(output): return output
        }
    }

    /// The host file descriptor the guest reads through this connection: stdin for `.stdio`.
    public var inputDescriptor: Int32? { self == .stdio ? STDIN_FILENO : nil }
}
