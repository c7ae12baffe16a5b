import KVMBackend
import VMMKit

/// The CPU backends this build of vmm offers, best first when several are `.preferred`.
enum BuiltInBackends {
    static let registry = BackendRegistry([KVMBackend.self])

    /// Names `--backend` accepts that have no backend in this build yet, with what to say instead.
    static let pending: [String: CommandError] = ["soft": .softBackendNotImplemented]

    /// The backend `name` names, if it can run here.
    static func backend(named name: String) throws(CommandError) -> any CPUBackend {
        guard let type = registry.backend(named: name) else {
            throw pending[name] ?? .unknownBackend(name, known: registry.backends.map { $0.name })
        }
        let backend = type.init()
        if case let .unavailable(reason) = backend.availability() { throw .backendUnavailable(name, reason: reason) }
        return backend
    }

    /// The registry's best choice for this host, with the reason to tell the user.
    static func bestAvailable() throws(CommandError) -> (backend: any CPUBackend, reason: String) {
        guard let best = registry.bestAvailable() else {
            let reasons = registry.backends.map { "\($0.name): \($0.init().availability().reason)" }
            throw .noBackendAvailable(reasons: reasons)
        }
        return best
    }
}
