/// A kind of device the command line can add with `--device NAME,...`.
public struct DeviceType: Sendable {
    public let name: String
    public let summary: String
    /// `key=meaning` lines for `--list-devices`.
    public let parameters: [String]
    public let make: @Sendable (inout DeviceArguments) throws -> any Device

    public init(name: String, summary: String, parameters: [String] = [],
                make: @escaping @Sendable (inout DeviceArguments) throws -> any Device) {
        self.name = name
        self.summary = summary
        self.parameters = parameters
        self.make = make
    }
}

/// Where a device type came from, for `--list-devices` and for naming who took a name first.
public enum DeviceOrigin: Sendable, Equatable, CustomStringConvertible {
    case builtIn
    case plugin(path: String)

    public var description: String {
        switch self {
        case .builtIn: return "built in"
        case let .plugin(path): return "plugin \(path)"
        }
    }
}

/// Device types by name. The command fills it with the built-in devices, whatever a program
/// embedding VMMCommand adds and the types of `--plugin` libraries, so a new device never edits
/// VMMKit.
public struct DeviceRegistry: Sendable {
    public private(set) var types: [DeviceType] = []
    /// `origins[i]` is where `types[i]` came from.
    public private(set) var origins: [DeviceOrigin] = []

    public init() {}

    public mutating func register(_ type: DeviceType, from origin: DeviceOrigin = .builtIn) throws(DeviceSpecificationError) {
        if let taken = types.firstIndex(where: { $0.name == type.name }) {
            throw .nameTaken(type.name, by: origins[taken])
        }
        types.append(type)
        origins.append(origin)
    }

    /// Builds a device from `NAME,key=value,...`.
    public func makeDevice(_ specification: String) throws -> any Device {
        var arguments = try DeviceArguments.parse(specification)
        guard let type = types.first(where: { $0.name == arguments.deviceType }) else {
            throw DeviceSpecificationError.unknownDevice(arguments.deviceType, known: types.map(\.name))
        }
        let device = try type.make(&arguments)
        try arguments.finish()
        return device
    }
}
