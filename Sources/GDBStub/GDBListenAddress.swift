import VMMKit

/// Where the gdb stub listens: `tcp:[HOST:]PORT`, as QEMU's `-gdb tcp::1234` (but loopback, not
/// every interface, when no host is named: a debugger can write guest memory). HOST is an IPv4
/// address or `localhost`; PORT 0 takes any free port, which vmm prints.
public struct GDBListenAddress: Equatable, Sendable {
    public let host: String
    public let port: UInt16

    public static let loopback = "127.0.0.1"

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    public static func parse(_ text: String) throws(GDBStubError) -> GDBListenAddress {
        guard text.hasPrefix("tcp:") else { throw .badAddress(text) }
        let rest = text.dropFirst(4)
        let host: Substring, portText: Substring
        if let colon = rest.lastIndex(of: ":") {
            (host, portText) = (rest[..<colon], rest[rest.index(after: colon)...])
        } else {
            (host, portText) = ("", rest)
        }
        guard let port = UInt16(portText), portText.allSatisfy(\.isASCII) else { throw .badAddress(text) }
        let name = host.isEmpty || host == "localhost" ? loopback : String(host)
        guard isIPv4(name) else { throw .badAddress(text) }
        return GDBListenAddress(host: name, port: port)
    }

    private static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { part in
            !part.isEmpty && part.count <= 3 && part.allSatisfy(\.isASCII) && UInt8(part) != nil
        }
    }
}

public enum GDBStubError: VMMError, Equatable {
    case badAddress(String)
    case socket(what: String, address: String, reason: String)

    public var description: String {
        switch self {
        case let .badAddress(text):
            return "'\(text)' is not a gdb address: use tcp:[HOST:]PORT, e.g. tcp:127.0.0.1:1234 (HOST an IPv4 address, default 127.0.0.1)"
        case let .socket(what, address, reason):
            return "gdb stub: cannot \(what) \(address): \(reason)"
        }
    }
}
