import VhostUser

/// What one kind of vhost-user device adds to `VhostUserDevice`: the virtio identity the guest
/// sees, which of the back-end's feature bits vmm passes on, where the configuration space comes
/// from and how many queues follow from it.
public struct VhostUserDeviceProfile: Sendable {
    public enum Configuration: Sendable {
        /// vmm makes it (virtio-fs: the tag is the front-end's choice).
        case fixed([UInt8])
        /// GET_CONFIG reads this many bytes from the back-end (needs PROTOCOL_F_CONFIG).
        case fromBackend(size: UInt32)
    }

    /// The device type's name, for messages.
    public let name: String
    public let deviceID: UInt16
    public let classCode: UInt32
    /// The device-specific feature bits vmm may offer the driver when the back-end does.
    public let deviceFeatures: UInt64
    public let configuration: Configuration
    /// The largest size of every queue.
    public let queueSize: UInt16
    /// How many queues the device has, given its configuration space and the back-end's features.
    public let queueCount: @Sendable (_ configuration: [UInt8], _ features: UInt64) -> Int
    /// The largest queue count vmm accepts from a back-end.
    public static let largestQueueCount = 16

    public init(name: String, deviceID: UInt16, classCode: UInt32, deviceFeatures: UInt64, configuration: Configuration,
                queueSize: UInt16, queueCount: @escaping @Sendable ([UInt8], UInt64) -> Int) {
        self.name = name
        self.deviceID = deviceID
        self.classCode = classCode
        self.deviceFeatures = deviceFeatures
        self.configuration = configuration
        self.queueSize = queueSize
        self.queueCount = queueCount
    }
}
