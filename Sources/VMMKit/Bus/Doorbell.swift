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
    /// The rings the device's thread took so far (`take`), for `--stats`.
    public let rings = Counter()
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

    /// The rings since the last take (0 if none), counted in `rings`; for the device's thread.
    @discardableResult
    public func take() -> UInt64 {
        let count = event.take()
        rings.increment(by: count)
        return count
    }
}

/// The address space a doorbell is in.
public enum DoorbellSpace: Sendable {
    case port, mmio
}
