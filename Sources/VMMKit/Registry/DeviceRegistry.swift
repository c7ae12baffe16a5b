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

/// Device types by name. The command fills it with the built-in devices and whatever a program
/// embedding VMMCommand adds, so a new device never edits VMMKit.
public struct DeviceRegistry: Sendable {
    public private(set) var types: [DeviceType] = []

    public init() {}

    public mutating func register(_ type: DeviceType) throws(DeviceSpecificationError) {
        guard !types.contains(where: { $0.name == type.name }) else { throw .duplicateType(type.name) }
        types.append(type)
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
