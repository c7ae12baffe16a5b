/// CPU backends by name, and the choice of a default.
public struct BackendRegistry {
    public private(set) var backends: [any CPUBackend.Type]

    public init(_ backends: [any CPUBackend.Type]) { self.backends = backends }

    public func backend(named name: String) -> (any CPUBackend.Type)? {
        backends.first { $0.name == name }
    }

    /// The first `.preferred` backend in registry order, else the first `.usable` one, among those
    /// that support `placement`. The reason says why it was chosen and why each backend ahead of it
    /// was passed over.
    public func bestAvailable(for placement: InterruptControllerPlacement = .userspace)
        -> (backend: any CPUBackend, reason: String)?
    {
        var probed: [(backend: any CPUBackend, availability: BackendAvailability)] = []
        for type in backends {
            let backend = type.init()
            let availability = backend.supports(placement)
                ? backend.availability() : .unavailable(placement == .inKernel
                    ? "has no in-kernel interrupt controllers" : "cannot use vmm's interrupt controllers")
            probed.append((backend, availability))
        }
        let chosen = probed.firstIndex { if case .preferred = $0.availability { true } else { false } }
            ?? probed.firstIndex { if case .usable = $0.availability { true } else { false } }
        guard let chosen else { return nil }
        let passedOver = probed.indices.filter { $0 < chosen || !probed[$0].backend.supports(placement) }
        let reasons = ([chosen] + passedOver.reversed()).map {
            "\(type(of: probed[$0].backend).name): \(probed[$0].availability.reason)"
        }
        return (probed[chosen].backend, reasons.joined(separator: "; "))
    }
}
