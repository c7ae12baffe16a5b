import VhostUser
import VirtioPCI
import VMMKit

/// virtio-fs (virtio 1.2, 5.11) served by a vhost-user back-end such as virtiofsd: one
/// high-priority queue and one request queue; the configuration is the tag the guest mounts
/// (`mount -t virtiofs TAG DIR`) and the request queue count, both vmm's to choose.
public enum VhostUserFileSystem {
    /// struct virtio_fs_config's tag: UTF-8, NUL-padded, not terminated when full (5.11.4).
    static let tagLength = 36
    static let requestQueues: UInt32 = 1
    /// QEMU's vhost-user-fs-pci default; libvhost-user back-ends take at most 1024.
    static let defaultQueueSize: UInt64 = 128
    static let largestQueueSize: UInt64 = 1024

    /// The device for the back-end at `socketPath`, the guest mounting it by `tag`.
    public static func profile(tag: String, queueSize: UInt16) -> VhostUserDeviceProfile {
        let tagBytes = Array(tag.utf8) + [UInt8](repeating: 0, count: tagLength - tag.utf8.count)
        let configuration = tagBytes + (0..<4).map { UInt8(truncatingIfNeeded: requestQueues >> (8 * $0)) }
        // Mass storage, other (the class QEMU's vhost-user-fs-pci shows); no device feature bits
        // (VIRTIO_FS_F_NOTIFICATION needs a notification queue vmm does not have).
        return VhostUserDeviceProfile(
            name: "vhost-user-fs", deviceID: 26, classCode: 0x01_80_00, deviceFeatures: 0,
            configuration: .fixed(configuration), queueSize: queueSize,
            queueCount: { _, _ in 1 + Int(requestQueues) })
    }

    public static let deviceType = DeviceType(
        name: "vhost-user-fs",
        summary: "virtio-fs on PCI served by a vhost-user back-end (virtiofsd); the guest mounts it with -t virtiofs TAG",
        parameters: [
            "socket=PATH    the back-end's listening UNIX socket (required)",
            "tag=NAME       the name the guest mounts, 1 to 36 bytes (required)",
            "queue-size=N   each queue's largest size, a power of two up to 1024 (default 128)",
        ]
    ) { arguments in
        guard let socket = arguments.string("socket") else { throw VhostUserError.missingParameter(device: "vhost-user-fs", "socket=PATH") }
        guard let tag = arguments.string("tag") else { throw VhostUserError.missingParameter(device: "vhost-user-fs", "tag=NAME") }
        guard (1...tagLength).contains(tag.utf8.count) else { throw DeviceSpecificationError.badValue("vhost-user-fs", "tag", tag) }
        let size = try arguments.integer("queue-size", default: defaultQueueSize)
        guard size >= 1, size <= largestQueueSize, size & (size - 1) == 0 else {
            throw DeviceSpecificationError.badValue("vhost-user-fs", "queue-size", String(size))
        }
        return try VirtioPCITransport(name: "vhost-user-fs", device: VhostUserDevice(profile(tag: tag, queueSize: UInt16(size)), socketPath: socket))
    }
}
