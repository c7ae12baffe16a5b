#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// Problems connecting a network device to the host at start.
public enum NetworkEndpointError: VMMError, Equatable {
    case needsOneLink
    case noSuchInterface(String)
    case badInterfaceName(String)
    case cannotAttachTap(String, errno: Int32)
    case badSocketPath(String)
    case cannotConnect(String, errno: Int32)

    public var description: String {
        switch self {
        case .needsOneLink: return "virtio-net needs one host link: tap=NAME or passt=SOCKET"
        case let .noSuchInterface(name):
            return "virtio-net: there is no network interface '\(name)' (make it first: ip tuntap add \(name) mode tap)"
        case let .badInterfaceName(name): return "virtio-net: '\(name)' is not an interface name (1 to 15 bytes)"
        case let .cannotAttachTap(name, errno):
            return "virtio-net: cannot attach to tap '\(name)': \(String(cString: strerror(errno)))"
        case let .badSocketPath(path): return "virtio-net: '\(path)' is too long for a UNIX socket path"
        case let .cannotConnect(path, errno):
            return "virtio-net: cannot connect to passt at '\(path)': \(String(cString: strerror(errno)))"
        }
    }
}
