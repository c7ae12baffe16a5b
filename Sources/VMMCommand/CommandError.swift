import VMMKit

/// Problems with what was asked on the command line, each one line for "vmm: <problem>".
public enum CommandError: VMMError, Equatable {
    case missingKernel
    case unreadableFile(role: String, path: String, reason: String)
    case badMemorySize(String)
    case badCPUCount(String)
    case badTimeout(String)
    case badIRQChip(String)
    case badParavirtual(String)
    case unknownBackend(String, known: [String])
    case backendUnavailable(String, reason: String)
    case noBackendAvailable(reasons: [String])
    case unsupportedPlacement(String, placement: InterruptControllerPlacement)
    case usage(String)

    public var description: String {
        switch self {
        case .missingKernel:
            return "no KERNEL given (usage: vmm [options] KERNEL; see vmm --help)"
        case let .unreadableFile(role, path, reason):
            return "cannot read \(role) '\(path)': \(reason)"
        case let .badMemorySize(text):
            return "'\(text)' is not a memory size: use a number with K, M or G (e.g. 128M, 2G), from 2M to 1024G, a multiple of 4K"
        case let .badCPUCount(text):
            return "'\(text)' is not a vCPU count: use 1 to 64"
        case let .badTimeout(text):
            return "'\(text)' is not a timeout: use a positive number of seconds"
        case let .badIRQChip(text):
            return "'\(text)' is not an irqchip placement: use user or kernel"
        case let .badParavirtual(word):
            let names = ParavirtualFeatures.named.map(\.name).joined(separator: ", ")
            return "'\(word)' is not a paravirtual interface: use all, none, or a comma-separated list of \(names)"
        case let .unknownBackend(name, known):
            return "unknown backend '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .backendUnavailable(name, reason):
            return "the \(name) backend cannot run here: \(reason)"
        case let .noBackendAvailable(reasons):
            return "no backend can run here (\(reasons.joined(separator: "; ")))"
        case let .unsupportedPlacement(name, placement):
            return placement == .inKernel
                ? "the \(name) backend has no in-kernel interrupt controllers (choose --irqchip user)"
                : "the \(name) backend cannot use vmm's interrupt controllers (choose --irqchip kernel)"
        case let .usage(message):
            return message
        }
    }
}
