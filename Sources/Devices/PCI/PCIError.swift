import VMMKit

public enum PCIError: VMMError, Equatable {
    case noHostBridge
    case busFull(String)
    case windowFull(String)

    public var description: String {
        switch self {
        case .noHostBridge: return "PCI devices need the board's PCI host bridge, and this machine has none"
        case let .busFull(name): return "PCI device '\(name)': all 31 slots of bus 0 are taken"
        case let .windowFull(name): return "PCI device '\(name)': its BARs do not fit in the PCI memory window"
        }
    }
}
