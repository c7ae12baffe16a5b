/// CPU backends by name, and the choice of a default.
public struct BackendRegistry {
    public private(set) var backends: [any CPUBackend.Type]

    public init(_ backends: [any CPUBackend.Type]) { self.backends = backends }

    public func backend(named name: String) -> (any CPUBackend.Type)? {
        backends.first { $0.name == name }
    }

    /// The first `.preferred` backend, else the first `.usable` one; the reason names why each
    /// backend ahead of it was passed over.
    public func bestAvailable() -> (backend: any CPUBackend, reason: String)? {
        var usable: (any CPUBackend, String)?
        var passedOver: [String] = []
        for type in backends {
            let backend = type.init()
            switch backend.availability() {
            case let .preferred(why):
                return (backend, why)
            case let .usable(why):
                if usable == nil { usable = (backend, why) } else { passedOver.append("\(type.name): \(why)") }
            case let .unavailable(why):
                passedOver.append("\(type.name): \(why)")
            }
        }
        guard let (backend, why) = usable else { return nil }
        let others = passedOver.filter { !$0.hasPrefix("\(type(of: backend).name):") }
        return (backend, ([why] + others).joined(separator: "; "))
    }
}
