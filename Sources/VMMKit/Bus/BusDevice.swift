/// One access reaching a device through a bus: a value type so dispatch allocates nothing.
public struct BusAccess: Sendable {
    /// The absolute port number or guest-physical address.
    public let address: UInt64
    /// `address` minus the base of the range the device claimed.
    public let offset: UInt64
    /// 1, 2, 4 or 8 bytes.
    public let size: Int
    /// The vCPU performing the access: per-CPU devices (the local APIC) answer differently per CPU.
    public let vcpu: Int

    public init(address: UInt64, offset: UInt64, size: Int, vcpu: Int) {
        self.address = address
        self.offset = offset
        self.size = size
        self.vcpu = vcpu
    }
}

/// Something that answers reads and writes in a claimed range of a port-I/O or MMIO bus.
///
/// Called from vCPU threads, possibly several at once: implementations protect their own state.
public protocol BusDevice: AnyObject {
    func read(_ access: BusAccess) -> UInt64
    func write(_ access: BusAccess, value: UInt64)
}
