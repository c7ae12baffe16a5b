/// The `key=value` parameters of one `--device NAME,key=value,...` specification.
///
/// Every key must be read by the device's factory: `finish()` rejects the ones nobody asked for,
/// so a typo is an error, not a silently ignored setting.
public struct DeviceArguments: Sendable {
    public let deviceType: String
    private var values: [String: String]

    public init(deviceType: String, values: [String: String] = [:]) {
        self.deviceType = deviceType
        self.values = values
    }

    /// Parses `NAME[,key=value]...`.
    public static func parse(_ specification: String) throws(DeviceSpecificationError) -> DeviceArguments {
        let parts = specification.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard let name = parts.first, !name.isEmpty else { throw .malformed(specification, "no device name") }
        var values: [String: String] = [:]
        for part in parts.dropFirst() {
            guard let equals = part.firstIndex(of: "="), equals != part.startIndex else {
                throw .malformed(specification, "'\(part)' is not key=value")
            }
            let key = String(part[..<equals])
            guard values[key] == nil else { throw .malformed(specification, "'\(key)' given twice") }
            values[key] = String(part[part.index(after: equals)...])
        }
        return DeviceArguments(deviceType: name, values: values)
    }

    public mutating func string(_ key: String) -> String? { values.removeValue(forKey: key) }

    public mutating func string(_ key: String, default value: String) -> String { string(key) ?? value }

    /// An unsigned integer in decimal or 0x-hex.
    public mutating func integer(_ key: String) throws(DeviceSpecificationError) -> UInt64? {
        guard let text = string(key) else { return nil }
        let parsed = text.hasPrefix("0x") ? UInt64(text.dropFirst(2), radix: 16) : UInt64(text)
        guard let parsed else { throw .badValue(deviceType, key, text) }
        return parsed
    }

    public mutating func integer(_ key: String, default value: UInt64) throws(DeviceSpecificationError) -> UInt64 {
        try integer(key) ?? value
    }

    /// Fails when a key was given that the device did not read.
    public func finish() throws(DeviceSpecificationError) {
        if let key = values.keys.sorted().first { throw .unknownKey(deviceType, key) }
    }
}

public enum DeviceSpecificationError: VMMError, Equatable {
    case malformed(String, String)
    case unknownDevice(String, known: [String])
    case unknownKey(String, String)
    case badValue(String, String, String)
    case nameTaken(String, by: DeviceOrigin)

    public var description: String {
        switch self {
        case let .malformed(spec, why): return "device specification '\(spec)': \(why)"
        case let .unknownDevice(name, known):
            return "unknown device '\(name)' (known: \(known.joined(separator: ", ")))"
        case let .unknownKey(device, key): return "device '\(device)' has no parameter '\(key)'"
        case let .badValue(device, key, value): return "device '\(device)': '\(value)' is not a valid \(key)"
        case let .nameTaken(name, origin): return "device type '\(name)' is already taken (\(origin))"
        }
    }
}
