import Synchronization
import Virtio
import VirtioPCI
import VMMKit

/// The network device (virtio 1.2, 5.1) over a host `FrameEndpoint`: one receive queue and one
/// transmit queue, each buffer a virtio_net_hdr_v1 and then an Ethernet frame. Offers MAC (the
/// address the guest's interface takes) and STATUS (the link is always up); no checksum or
/// segmentation offload, so every frame is whole and checksummed both ways, and no mergeable
/// receive buffers: a frame goes into one chain, which Linux then sizes for the MTU (its "small"
/// buffers).
///
/// Receive buffers wait for the host: a chain is taken off the receive queue only when a frame is
/// there for it. A frame that arrives while the guest has no buffer stays here, and the device
/// thread stops polling the link until the guest's next doorbell (so a guest that stops receiving
/// costs nothing, and the host side's own queue applies back-pressure or drops).
public final class VirtioNet: VirtioDevice {
    /// Feature bits (5.1.3).
    enum Feature {
        static let mac: UInt64 = 1 << 5
        static let status: UInt64 = 1 << 16
    }

    /// struct virtio_net_hdr_v1 (5.1.6): flags, gso_type, hdr_len, gso_size, csum_start,
    /// csum_offset, num_buffers; with VERSION_1 num_buffers is always there.
    public static let headerSize = 12
    static let numberOfBuffersOffset = 10
    public static let receiveQueue = 0
    public static let transmitQueue = 1
    static let queueSize: UInt16 = 256
    /// The largest frame either way: a 64 KiB MTU (a tap's limit) and the Ethernet header.
    public static let frameLimit = 65536 + 18
    /// VIRTIO_NET_S_LINK_UP (5.1.4).
    static let linkUp: UInt16 = 1

    public let deviceID: UInt16 = 1
    /// Network controller, Ethernet (the class QEMU's virtio-net-pci shows).
    public let classCode: UInt32 = 0x02_00_00
    public let deviceFeatures = Feature.mac | Feature.status
    public let queueSizes: [UInt16] = [VirtioNet.queueSize, VirtioNet.queueSize]
    public let mac: MACAddress
    private let endpoint: any FrameEndpoint
    private let configuration: [UInt8]
    /// A received frame behind its header, ready to copy into a chain in one piece; allocated once.
    private let receiveBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: VirtioNet.headerSize + VirtioNet.frameLimit,
                                                                       alignment: 16)
    private let transmitBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: VirtioNet.frameLimit, alignment: 16)
    /// The length of the frame in `receiveBuffer` that no chain has taken yet, 0 for none.
    private var pendingLength = 0
    private var hostClosed = false
    /// The device thread's poll, and the link's place in it (set at attach; none in unit tests).
    private var thread: DeviceEventThread?
    private var linkSource = -1
    /// Set when the transport serves the receive queue (the driver is running), cleared by reset.
    private let driverRunning = Atomic<Bool>(false)

    public init(endpoint: any FrameEndpoint, mac: MACAddress = .standard) {
        self.endpoint = endpoint
        self.mac = mac
        // struct virtio_net_config (5.1.4): mac, status, max_virtqueue_pairs (1; no MQ).
        configuration = mac.bytes + [UInt8(Self.linkUp), 0, 1, 0]
        receiveBuffer.initializeMemory(as: UInt8.self, repeating: 0)
        // Every frame is one buffer, with nothing to offload: the header is all zero but this.
        receiveBuffer.storeBytes(of: UInt16(1).littleEndian, toByteOffset: Self.numberOfBuffersOffset, as: UInt16.self)
    }

    deinit {
        receiveBuffer.deallocate()
        transmitBuffer.deallocate()
    }

    public func readConfiguration(offset: Int, size: Int) -> UInt64 {
        Self.field(of: configuration, offset: offset, size: size)
    }

    /// Read the host only with no frame waiting for a buffer, while the host side is there.
    public var wantsHostInput: Bool { pendingLength == 0 && !hostClosed }

    /// The link's descriptor joins the device thread's poll, left out until the driver's first
    /// doorbell shows there are receive buffers.
    public func watchSources(on thread: DeviceEventThread) {
        linkSource = thread.watch(descriptor: endpoint.descriptor)
        thread.setWatching(linkSource, false)
        self.thread = thread
    }

    /// A readable link while no driver runs (before DRIVER_OK, after a reset: the transport then
    /// serves no queue) is left unread until the next doorbell, not polled again at once.
    public func woke(_ ready: DeviceEventThread.Ready) {
        if ready.contains(linkSource), !driverRunning.load(ordering: .acquiring) { thread?.setWatching(linkSource, false) }
    }

    public func process(_ queue: SplitVirtqueue, index: Int) -> Bool {
        guard index == Self.receiveQueue else { return serveAll(queue, index: index) }
        driverRunning.store(true, ordering: .releasing)
        let intact = receive(into: queue)
        if linkSource >= 0 { thread?.setWatching(linkSource, intact && wantsHostInput) }
        return intact
    }

    /// Moves host frames into receive chains while there are both; false when the ring is broken.
    private func receive(into queue: SplitVirtqueue) -> Bool {
        let frameArea = UnsafeMutableRawBufferPointer(rebasing: receiveBuffer[Self.headerSize...])
        while true {
            if pendingLength == 0 {
                guard !hostClosed else { return true }
                switch endpoint.receive(into: frameArea) {
                case let .frame(length) where length > 0: pendingLength = length
                case .frame, .none: return true
                case .closed:
                    hostClosed = true
                    return true
                }
            }
            switch queue.pop() {
            case .empty:
                return true
            case .broken:
                return false
            case let .malformed(head, _):
                queue.push(head: head, written: 0)
            case .chain:
                let chain = queue.chain
                let length = Self.headerSize + pendingLength
                // Too big for the chain (no mergeable buffers to spread it over): the frame is
                // dropped, and the chain goes back empty, which Linux counts as a length error.
                var written = 0
                if chain.writableLength >= length {
                    written = chain.write(UnsafeRawBufferPointer(rebasing: receiveBuffer[..<length]), at: 0)
                }
                queue.push(head: chain.head, written: UInt32(written))
                pendingLength = 0
            }
        }
    }

    /// A transmit chain: the header (nothing in it to act on without offloads), then the frame.
    public func serve(_ chain: DescriptorChain, queue: Int) -> UInt32 {
        let length = chain.readableLength - Self.headerSize
        guard queue == Self.transmitQueue, length > 0, length <= Self.frameLimit else { return 0 }
        let frame = UnsafeMutableRawBufferPointer(rebasing: transmitBuffer[..<length])
        let copied = chain.read(from: Self.headerSize, into: frame)
        endpoint.send(UnsafeRawBufferPointer(rebasing: frame[..<copied]))
        return 0
    }

    /// The driver's reset: a frame waiting for a buffer belonged to the old rings.
    public func reset() {
        pendingLength = 0
        driverRunning.store(false, ordering: .releasing)
    }

    public func stop() { endpoint.close() }
}
