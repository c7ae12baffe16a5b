import Virtio
import VirtioPCI
import VMMKit

/// The entropy device (virtio 1.2, 5.4): one request queue whose device-writable buffers the
/// device fills with random bytes, here from the host's getrandom(2), through the standard
/// library's `SystemRandomNumberGenerator` (which is getrandom on Linux). No features, no
/// configuration.
public final class VirtioEntropy: VirtioDevice {
    public let deviceID: UInt16 = 4
    /// Other (PCI Code and ID Assignment: base class FFh), as QEMU's virtio-rng-pci shows.
    public let classCode: UInt32 = 0xFF_00_00
    public let deviceFeatures: UInt64 = 0
    public let queueSizes: [UInt16] = [64]

    public init() {}

    public func readConfiguration(offset: Int, size: Int) -> UInt64 { 0 }

    /// At most this many bytes per request (the device may write fewer than the buffers hold,
    /// 5.4.6.2), so a chain of overlapping giant buffers cannot keep the device thread busy.
    static let requestLimit = 64 << 10

    /// Fills the writable segments in order, eight bytes at a time, up to `requestLimit`.
    public func serve(_ chain: DescriptorChain, queue: Int) -> UInt32 {
        var random = SystemRandomNumberGenerator()
        var total = 0
        for index in 0..<chain.count where chain[index].writable && total < Self.requestLimit {
            let segment = chain[index]
            let length = min(segment.length, Self.requestLimit - total)
            var filled = 0
            while filled < length {
                var word = random.next()
                let count = min(8, length - filled)
                (segment.host + filled).copyMemory(from: &word, byteCount: count)
                filled += count
            }
            total += length
        }
        return UInt32(total)
    }
}

extension VirtioEntropy {
    public static let deviceType = DeviceType(
        name: "virtio-rng",
        summary: "a virtio entropy device on PCI (Linux: /dev/hwrng), fed by the host's getrandom",
        parameters: []
    ) { _ in
        try VirtioPCITransport(name: "virtio-rng", device: VirtioEntropy())
    }
}
