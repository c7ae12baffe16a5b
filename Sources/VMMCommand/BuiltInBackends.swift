import KVMBackend
import SoftBackend
import VMMKit

/// The CPU backends vmm offers. When several are `.preferred` here, the first wins: KVM on a
/// VT-x/AMD-V host; the Soft CPU where KVM is only `.usable` (PVM) or absent.
enum BuiltInBackends {
    static let registry = BackendRegistry([KVMBackend.self, SoftBackend.self])

    /// The backend `name` names, if it can run here (with interrupt controllers at `placement`).
    static func backend(named name: String, placement: InterruptControllerPlacement) throws(CommandError)
        -> any CPUBackend
    {
        guard let type = registry.backend(named: name) else {
            throw .unknownBackend(name, known: registry.backends.map { $0.name })
        }
        let backend = type.init()
        if case let .unavailable(reason) = backend.availability() { throw .backendUnavailable(name, reason: reason) }
        guard backend.supports(placement) else { throw .unsupportedPlacement(name, placement: placement) }
        return backend
    }

    /// The registry's best choice for this host, with the reason to tell the user.
    static func bestAvailable(for placement: InterruptControllerPlacement) throws(CommandError)
        -> (backend: any CPUBackend, reason: String)
    {
        guard let best = registry.bestAvailable(for: placement) else {
            let reasons = registry.backends.map { "\($0.name): \($0.init().availability().reason)" }
            throw .noBackendAvailable(reasons: reasons)
        }
        return best
    }
}
