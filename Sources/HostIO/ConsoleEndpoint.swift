#if canImport(Glibc)
import Glibc
#endif

/// What a guest console (COM1, a further UART) is connected to on the host, as `--serial` and
/// `--device serial,output=` name it.
public enum ConsoleEndpoint: Equatable, Sendable, CustomStringConvertible {
    /// Output to stdout; input from stdin (a terminal in raw mode, or a pipe).
    case stdio
    /// Output to a file, no input.
    case file(String)
    /// Output discarded, no input.
    case none
    /// An output the embedder made, such as `ConsoleOutput.memory()` to capture what a guest prints;
    /// no input.
    case output(ConsoleOutput)

    /// Parses `stdio`, `file:PATH` or `none`.
    public init(parsing text: String) throws(HostIOError) {
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

    public static func == (lhs: ConsoleEndpoint, rhs: ConsoleEndpoint) -> Bool {
        switch (lhs, rhs) {
        case (.stdio, .stdio), (.none, .none): return true
        case let (.file(a), .file(b)): return a == b
        case let (.output(a), .output(b)): return a === b
        default: return false
        }
    }

    /// The output side of this connection, opening a file if it names one.
    public func makeOutput() throws(HostIOError) -> ConsoleOutput {
        switch self {
        case .stdio: return .standardOutput()
        case let .file(path): return try .file(path)
        case .none: return .discard()
        case let .output(output): return output
        }
    }

    /// The input side: stdin for `.stdio`, nothing otherwise.
    public func makeInput() -> DescriptorInput? { self == .stdio ? DescriptorInput(reading: STDIN_FILENO) : nil }
}
