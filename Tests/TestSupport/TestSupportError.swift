import VMMKit

/// Why a test could not get what it needs from the host.
public enum TestSupportError: VMMError {
    case guestBuildFailed(String)
    case noSuchGuest(name: String, path: String)
    case vmmNotBuilt(expected: String)

    public var description: String {
        switch self {
        case let .guestBuildFailed(output): return "make -C Tests/Guests failed:\n\(output)"
        case let .noSuchGuest(name, path): return "no guest kernel '\(name)' (expected \(path))"
        case let .vmmNotBuilt(expected): return "the vmm executable is not built (expected \(expected)); run swift build --product vmm"
        }
    }
}
