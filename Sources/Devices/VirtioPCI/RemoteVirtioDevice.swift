import Virtio
import VMMKit

/// A virtio device whose queues another process serves (vhost-user): the transport still
/// negotiates with the driver and owns the registers, the MSI-X vectors and the queues' eventfds,
/// but hands the queues over once the driver sets DRIVER_OK instead of serving them on its own
/// thread. A queue's doorbell is its kick (an ioeventfd on KVM: no exit to vmm); the back-end's
/// write of the queue's call eventfd becomes the queue's MSI-X message.
public protocol RemoteVirtioDevice: VirtioDevice {
    /// Every feature bit the transport offers, the transport's own ones included: what the
    /// back-end serves, not what vmm would.
    var deviceFeatures: UInt64 { get }
    /// The driver set DRIVER_OK with `features` accepted: the back-end takes over `queues`, the
    /// ones the driver enabled. Called on a vCPU thread outside the transport's lock; a throw
    /// makes the device need a reset.
    func start(features: UInt64, queues: [RemoteQueue], memory: GuestMemory) throws
    /// The descriptor whose hang-up (POLLHUP, POLLERR) means the back-end is gone.
    var connectionDescriptor: Int32 { get }
    /// The connection hung up while the guest runs: the device has failed.
    func connectionLost()
}

extension RemoteVirtioDevice {
    /// Never called: the back-end serves the requests.
    public func serve(_ chain: DescriptorChain, queue: Int) -> UInt32 { 0 }
    /// Every doorbell is the back-end's kick: vmm's thread must not take its rings.
    public func takesDoorbell(ofQueue queue: Int) -> Bool { false }
}

/// One queue as the driver programmed it, with the transport's eventfds for it.
public struct RemoteQueue: Equatable, Sendable {
    public let index: Int
    public let size: UInt16
    public let descriptorTable: UInt64
    public let availableRing: UInt64
    public let usedRing: UInt64
    /// Written by the transport when the driver notifies the queue; the back-end reads it.
    public let kick: Int32
    /// Written by the back-end when the driver should be interrupted.
    public let call: Int32
    /// Written by the back-end when the queue broke.
    public let error: Int32

    public init(index: Int, size: UInt16, descriptorTable: UInt64, availableRing: UInt64, usedRing: UInt64,
                kick: Int32, call: Int32, error: Int32) {
        self.index = index
        self.size = size
        self.descriptorTable = descriptorTable
        self.availableRing = availableRing
        self.usedRing = usedRing
        self.kick = kick
        self.call = call
        self.error = error
    }
}
