#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// A network link through an existing tap interface (Linux's Documentation/networking/tuntap.rst):
/// /dev/net/tun attached to it with TUNSETIFF, IFF_TAP | IFF_NO_PI, so each read(2) is one whole
/// Ethernet frame and each write(2) sends one, with no packet-information prefix and no
/// virtio_net_hdr (the device offers no offloads, so frames need none; TUNSETOFFLOAD 0 makes
/// the host side agree). Non-blocking: a read with
/// nothing waiting says so at once, and a write the interface cannot take (down, or its queue
/// full) drops the frame, as a cable would.
public final class TapEndpoint: FrameEndpoint, @unchecked Sendable {
    /// From <linux/if_tun.h>: TUNSETIFF, _IOW('T', 202, int), TUNSETOFFLOAD, _IOW('T', 208,
    /// unsigned int), and the flags.
    static let setInterface: UInt = 0x4004_54CA
    static let setOffload: UInt = 0x4004_54D0
    static let tapFlag: Int16 = 0x0002
    static let noPacketInformationFlag: Int16 = 0x1000
    /// IFNAMSIZ: the name and its NUL.
    static let nameSize = 16

    public let name: String
    public let descriptor: Int32

    /// Attaches to the tap interface `name`, which must exist: without that check TUNSETIFF would
    /// quietly create a new interface nobody has configured.
    public init(name: String) throws(NetworkEndpointError) {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count < Self.nameSize, !bytes.contains(0), !bytes.contains(UInt8(ascii: "/")) else {
            throw .badInterfaceName(name)
        }
        guard if_nametoindex(name) != 0 else { throw .noSuchInterface(name) }
        let descriptor = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotAttachTap(name, errno: errno) }
        // struct ifreq: ifr_name[16], then the union whose first member here is ifr_flags.
        var request = [UInt8](repeating: 0, count: 40)
        request.replaceSubrange(0..<bytes.count, with: bytes)
        let flags = Self.tapFlag | Self.noPacketInformationFlag
        request[16] = UInt8(truncatingIfNeeded: flags)
        request[17] = UInt8(truncatingIfNeeded: flags >> 8)
        // No offloads: frames carry no virtio_net_hdr here, so the host must segment and checksum
        // every frame itself. A persistent tap keeps what its last user set (QEMU turns TSO and
        // checksum offload on), which would hand over 64 KiB frames with checksums left undone.
        let result = request.withUnsafeMutableBytes { ioctl(descriptor, Self.setInterface, $0.baseAddress!) } == 0
            && ioctl(descriptor, Self.setOffload, CInt(0)) == 0
        guard result else {
            let error = errno
            Glibc.close(descriptor)
            throw .cannotAttachTap(name, errno: error)
        }
        self.name = name
        self.descriptor = descriptor
    }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> FrameReceipt {
        while true {
            let got = read(descriptor, buffer.baseAddress, buffer.count)
            if got > 0 { return .frame(got) }
            if got < 0 && errno == EINTR { continue }
            // EAGAIN: nothing waiting. Any other error ends receiving: poll would keep reporting it,
            // and the device thread must not spin on it.
            return got < 0 && errno == EAGAIN ? .none : .closed
        }
    }

    @discardableResult
    public func send(_ frame: UnsafeRawBufferPointer) -> Bool {
        while true {
            let sent = write(descriptor, frame.baseAddress, frame.count)
            if sent < 0 && errno == EINTR { continue }
            return sent == frame.count
        }
    }

    public func close() { Glibc.close(descriptor) }
}
