import PCI

/// Where the transport's structures sit in its BARs, and the vendor-specific capabilities that
/// tell the driver so (virtio 1.2, 4.1.4: struct virtio_pci_cap). BAR 0 holds the common
/// configuration, the ISR status byte, the device configuration and the notification doorbells,
/// a page each; BAR 1 holds the MSI-X table and pending bits. A fifth capability is the window
/// through which a driver may reach those through configuration space alone (4.1.4.9).
enum VirtioPCILayout {
    static let structuresBAR = 0
    static let msixBAR = 1
    static let structuresBARSize: UInt64 = 0x4000

    static let commonOffset: UInt64 = 0x0000
    /// struct virtio_pci_common_cfg up to queue_device (4.1.4.3).
    static let commonLength: UInt64 = 0x38
    static let isrOffset: UInt64 = 0x1000
    static let deviceOffset: UInt64 = 0x2000
    static let deviceLength: UInt64 = 0x1000
    static let notifyOffset: UInt64 = 0x3000
    static let notifyLength: UInt64 = 0x1000
    /// Queue n's doorbell is at notifyOffset + n * multiplier (4.1.4.4).
    static let notifyOffsetMultiplier: UInt32 = 4

    /// virtio_pci_cap.cfg_type values (4.1.4).
    enum StructureType: UInt8 {
        case common = 1, notify = 2, isr = 3, device = 4, pciConfigurationAccess = 5
    }

    /// Inside the PCI configuration access capability (struct virtio_pci_cfg_cap, 4.1.4.9): the
    /// BAR, offset and length fields the driver writes, and the data window.
    enum AccessWindow {
        static let bar = 4
        static let offset = 8
        static let length = 12
        static let data = 16
        static let size = 20
    }

    /// The vendor-specific capability ID (PCI Code and ID Assignment, 2.1).
    static let vendorCapabilityID: UInt8 = 0x09

    /// Adds the five capabilities to `space`; returns where the configuration access one is.
    static func addCapabilities(to space: inout PCIConfigurationSpace) -> Int {
        add(.common, offset: commonOffset, length: commonLength, to: &space)
        add(.notify, offset: notifyOffset, length: notifyLength, to: &space,
            extra: littleEndian(notifyOffsetMultiplier))
        add(.isr, offset: isrOffset, length: 1, to: &space)
        add(.device, offset: deviceOffset, length: deviceLength, to: &space)
        // The driver chooses the BAR, offset and length, then reads or writes the data window.
        let writable = [UInt8](repeating: 0, count: AccessWindow.bar) + [0xFF, 0, 0, 0]
            + [UInt8](repeating: 0xFF, count: AccessWindow.size - AccessWindow.offset)
        return add(.pciConfigurationAccess, offset: 0, length: 0, to: &space, extra: [0, 0, 0, 0], writable: writable)
    }

    /// cap_len, cfg_type, bar, id, two padding bytes, offset and length (the two-byte header,
    /// cap_vndr and cap_next, comes from the space).
    @discardableResult
    private static func add(_ type: StructureType, offset: UInt64, length: UInt64,
                            to space: inout PCIConfigurationSpace, extra: [UInt8] = [], writable: [UInt8] = []) -> Int {
        let body = [UInt8(16 + extra.count), type.rawValue, UInt8(structuresBAR), 0, 0, 0]
            + littleEndian(UInt32(offset)) + littleEndian(UInt32(length)) + extra
        return space.addCapability(id: vendorCapabilityID, body: body, writableMask: writable)
    }

    static func littleEndian(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
}
