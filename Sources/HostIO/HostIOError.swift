#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// Problems setting up the host side of a device's byte stream.
public enum HostIOError: VMMError, Equatable {
    case cannotOpenOutput(path: String, errno: Int32)
    case badEndpoint(String)
    case cannotCreateWakePipe(errno: Int32)
    case badEscape(String)

    public var description: String {
        switch self {
        case let .cannotOpenOutput(path, errno):
            return "cannot open serial output file '\(path)': \(String(cString: strerror(errno)))"
        case let .badEndpoint(text):
            return "'\(text)' is not a serial connection (use stdio, file:PATH or none)"
        case let .badEscape(text):
            return "'\(text)' is not a console escape key (use a letter as in ctrl-a or ^A, one character, or none)"
        case let .cannotCreateWakePipe(errno):
            return "cannot create the host input thread's pipe: \(String(cString: strerror(errno)))"
        }
    }
}
