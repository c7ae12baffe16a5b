import Virtio
import VMMKit

/// What one kind of virtio device adds to the PCI transport (virtio 1.2, 5: Device Types): its
/// ID, features, queues, configuration layout and how it serves a request. The transport calls
/// `serve` on the device's own thread, one request at a time, never on a vCPU thread.
public protocol VirtioDevice: AnyObject {
    /// The virtio device ID (5): 2 block, 4 entropy.
    var deviceID: UInt16 { get }
    /// The PCI class code (base, subclass, interface) the function shows.
    var classCode: UInt32 { get }
    /// Device-specific feature bits; the transport adds VERSION_1, INDIRECT_DESC and EVENT_IDX.
    var deviceFeatures: UInt64 { get }
    /// The largest size of each queue, a power of two; how many there are is the queue count.
    var queueSizes: [UInt16] { get }
    /// `size` bytes at `offset` of the device-specific configuration (zero past its end).
    func readConfiguration(offset: Int, size: Int) -> UInt64
    /// Serves the request `chain` from queue `queue`; returns how many bytes it wrote into the
    /// chain's writable buffers.
    func serve(_ chain: DescriptorChain, queue: Int) -> UInt32
    /// Serves what `queue` (number `index`) holds; false when its ring is broken. The default pops
    /// every chain and answers it with `serve`; a device whose buffers wait for the host (a network
    /// device's receive buffers) takes chains only when it has something to put in them.
    func process(_ queue: SplitVirtqueue, index: Int) -> Bool
    /// Whether the transport's thread takes queue `queue`'s doorbell (true by default). False for a
    /// queue another process serves, handed the doorbell's eventfd as its kick
    /// (`VirtioPCITransport.doorbells`, a vhost-user back end's): the ring must reach it untaken.
    func takesDoorbell(ofQueue queue: Int) -> Bool
    /// Called once at attach, before the device's thread starts: a device that also waits on
    /// something else (a tap device's descriptor, a back end's call eventfd) adds it to `thread`.
    func watchSources(on thread: DeviceEventThread)
    /// On the device's thread, after each wake-up and before the queues are served: what woke it,
    /// by the indices `watchSources` got from `thread`.
    func woke(_ ready: DeviceEventThread.Ready)
    /// The driver reset the device (status 0).
    func reset()
    /// Releases host resources: the machine is done.
    func stop()
}

extension VirtioDevice {
    public func takesDoorbell(ofQueue queue: Int) -> Bool { true }
    public func watchSources(on thread: DeviceEventThread) {}
    public func woke(_ ready: DeviceEventThread.Ready) {}
    public func reset() {}
    public func stop() {}

    public func process(_ queue: SplitVirtqueue, index: Int) -> Bool { serveAll(queue, index: index) }

    /// Pops every chain of `queue` and answers it with `serve` (a malformed one with nothing
    /// written); false when the ring is broken.
    public func serveAll(_ queue: SplitVirtqueue, index: Int) -> Bool {
        while true {
            switch queue.pop() {
            case .empty:
                return true
            case .chain:
                queue.push(head: queue.chain.head, written: serve(queue.chain, queue: index))
            case let .malformed(head, _):
                queue.push(head: head, written: 0)
            case .broken:
                return false
            }
        }
    }

    /// Reads `size` bytes at `offset` out of `bytes`, little-endian, zero past the end.
    public static func field(of bytes: [UInt8], offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<size where offset + index < bytes.count && offset + index >= 0 {
            value |= UInt64(bytes[offset + index]) << (8 * index)
        }
        return value
    }
}
