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

    /// Fills every writable segment, eight bytes at a time.
    public func serve(_ chain: DescriptorChain, queue: Int) -> UInt32 {
        var random = SystemRandomNumberGenerator()
        for index in 0..<chain.count where chain[index].writable {
            let segment = chain[index]
            var filled = 0
            while filled < segment.length {
                var word = random.next()
                let count = min(8, segment.length - filled)
                (segment.host + filled).copyMemory(from: &word, byteCount: count)
                filled += count
            }
        }
        return UInt32(truncatingIfNeeded: chain.writableLength)
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
