/// A register whose write only tells a device "look at your queues" (a virtio queue notification,
/// virtio 1.2, 4.1.4.4): the write carries no state the vCPU must wait for, so it need not reach
/// the device through the bus. A guest write of exactly `width` bytes at `address` (and, with
/// `match`, of that value) signals `event`, which the device's own thread waits on
/// (`DeviceEventThread`): on KVM inside the kernel (KVM_IOEVENTFD), so the vCPU never leaves the
/// guest, on the Soft CPU from the vCPU's thread before bus dispatch, with no lock. Any other write
/// there goes through the bus as usual, so the device should also answer it (a virtio driver may
/// use another width, or reach the register through the PCI configuration access window).
///
/// Declared with `DoorbellTable.declare` while the machine is assembled; `move` follows the
/// register when software moves it (a PCI BAR reprogrammed), on whatever thread that happens.
public final class Doorbell: @unchecked Sendable {
    public let name: String
    public let space: DoorbellSpace
    /// 1, 2, 4 or 8 bytes.
    public let width: Int
    /// The value a write must carry to ring, if any (KVM_IOEVENTFD_FLAG_DATAMATCH).
    public let match: UInt64?
    /// What a ring signals. A device may hand its descriptor elsewhere (a vhost-user back end's kick).
    public let event: EventNotifier
    /// What the device's thread took so far: eventfd counts, and rings counted in userspace.
    private let signalled = Counter()
    private let userspaceRings = Counter()
    unowned let table: DoorbellTable
    let slot: Int

    init(name: String, space: DoorbellSpace, width: Int, match: UInt64?, table: DoorbellTable, slot: Int) throws(EventNotifierError) {
        self.name = name
        self.space = space
        self.width = width
        self.match = match
        self.table = table
        self.slot = slot
        event = try EventNotifier()
    }

    /// Where the register is now; nil while it decodes nowhere (a BAR disabled).
    public var address: UInt64? { table.address(of: self) }

    /// Puts the register at `address`, or nowhere with nil.
    public func move(to address: UInt64?) { table.move(self, to: address) }

    /// The rings the device's thread has taken, for `--stats`: those rung in userspace, counted
    /// there, and those the kernel signalled (KVM's ioeventfd), the eventfd's counts less the
    /// userspace rings' own writes.
    public var rings: UInt64 {
        let userspaceSignals = table.userspaceSignals(self)
        let fromKernel = signalled.value > userspaceSignals ? signalled.value - userspaceSignals : 0
        return userspaceRings.value + fromKernel
    }

    /// Takes the rings since the last take, for the device's thread; returns how many (at least
    /// one if the doorbell rang). The eventfd first: a ring after it either is counted by the
    /// table's exchange below or signals the eventfd again, so none goes unseen.
    @discardableResult
    public func take() -> UInt64 {
        let before = rings
        signalled.increment(by: event.take())
        userspaceRings.increment(by: table.takePending(self))
        return rings - before
    }
}

/// The address space a doorbell is in.
public enum DoorbellSpace: Sendable {
    case port, mmio
}
