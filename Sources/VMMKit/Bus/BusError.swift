public enum BusError: VMMError, Equatable {
    case overlap(bus: String, existing: String, new: String, address: UInt64)
    case emptyRange(bus: String, device: String)
    case frozen(bus: String, device: String)

    public var description: String {
        switch self {
        case let .overlap(bus, existing, new, address):
            return "\(bus): '\(new)' claims 0x\(String(address, radix: 16)), already claimed by '\(existing)'"
        case let .emptyRange(bus, device):
            return "\(bus): '\(device)' claims an empty or wrapping range"
        case let .frozen(bus, device):
            return "\(bus): '\(device)' claims a range after the machine started"
        }
    }
}
