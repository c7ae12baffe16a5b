public enum BusError: VMMError, Equatable {
    case overlap(bus: String, existing: String, new: String, address: UInt64)
    case emptyRange(bus: String, device: String)
    case frozen(bus: String, device: String)
    case reserved(bus: String, device: String, base: UInt64, last: UInt64, owner: String, ownerBase: UInt64, ownerLast: UInt64)

    public var description: String {
        switch self {
        case let .overlap(bus, existing, new, address):
            return "\(bus): '\(new)' claims 0x\(String(address, radix: 16)), already claimed by '\(existing)'"
        case let .emptyRange(bus, device):
            return "\(bus): '\(device)' claims an empty or wrapping range"
        case let .reserved(bus, device, base, last, owner, ownerBase, ownerLast):
            return "\(bus): '\(device)' claims \(hex(base))-\(hex(last)), inside \(owner) (\(hex(ownerBase))-\(hex(ownerLast)))"
        case let .frozen(bus, device):
            return "\(bus): '\(device)' claims a range after the machine started"
        }
    }
}

private func hex(_ value: UInt64) -> String { "0x" + String(value, radix: 16) }
