import VhostUser
import VirtioPCI
import VMMKit

/// A virtio block device (virtio 1.2, 5.2) served by a vhost-user back-end such as
/// qemu-storage-daemon's vhost-user-blk export: the configuration (capacity, limits, queue count)
/// is the back-end's, read with GET_CONFIG.
public enum VhostUserBlock {
    /// Feature bits (5.2.3) vmm passes on: SIZE_MAX, SEG_MAX, GEOMETRY, RO, BLK_SIZE, FLUSH,
    /// TOPOLOGY, MQ, DISCARD, WRITE_ZEROES. CONFIG_WCE is left out: the guest would write the
    /// configuration, which vmm does not pass to the back-end (SET_CONFIG).
    static let deviceFeatures: UInt64 = [1, 2, 4, 5, 6, 9, 10, 12, 13, 14].reduce(0) { $0 | 1 << $1 }
    static let multipleQueues: UInt64 = 1 << 12
    /// struct virtio_blk_config up to write_zeroes_may_unmap and its padding: what every back-end
    /// has, whichever Linux headers it was built with.
    static let configurationSize: UInt32 = 60
    /// num_queues' offset in the configuration.
    static let queueCountOffset = 34
    static let queueSize: UInt16 = 256

    public static let profile = VhostUserDeviceProfile(
        name: "vhost-user-blk", deviceID: 2, classCode: 0x01_00_00, deviceFeatures: deviceFeatures,
        configuration: .fromBackend(size: configurationSize), queueSize: queueSize,
        queueCount: { configuration, features in
            // num_queues is valid with VIRTIO_BLK_F_MQ only (5.2.4); one queue otherwise.
            guard features & multipleQueues != 0 else { return 1 }
            return Int(configuration[queueCountOffset]) | Int(configuration[queueCountOffset + 1]) << 8
        })

    public static let deviceType = DeviceType(
        name: "vhost-user-blk",
        summary: "a virtio block device on PCI served by a vhost-user back-end (qemu-storage-daemon's vhost-user-blk export)",
        parameters: ["socket=PATH    the back-end's listening UNIX socket (required)"]
    ) { arguments in
        guard let socket = arguments.string("socket") else { throw VhostUserError.missingParameter(device: "vhost-user-blk", "socket=PATH") }
        return try VirtioPCITransport(name: "vhost-user-blk", device: VhostUserDevice(profile, socketPath: socket))
    }
}
