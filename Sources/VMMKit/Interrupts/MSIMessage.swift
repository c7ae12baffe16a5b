/// A message-signalled interrupt: the 32-bit write of `data` to `address` that a PCI function
/// makes to interrupt (PCI Local Bus 3.0, 6.8.1; MSI-X: PCI 3.0, 6.8.2). On x86 the address lies in
/// the 0xFEExxxxx interrupt window and the pair encodes an APIC message (SDM vol. 3, 10.11).
public struct MSIMessage: Equatable, Sendable {
    public var address: UInt64
    public var data: UInt32

    public init(address: UInt64, data: UInt32) {
        self.address = address
        self.data = data
    }

    /// The interrupt window every x86 MSI address falls in (SDM vol. 3, 10.11.1: bits 31:20 = 0xFEE).
    public static let interruptWindow: ClosedRange<UInt64> = 0xFEE0_0000...0xFEEF_FFFF

    /// The APIC message this write means, per SDM vol. 3, 10.11.1 (address: destination ID in bits
    /// 19:12, destination mode in bit 2) and 10.11.2 (data: vector in 7:0, delivery mode in 10:8,
    /// level in bit 14, trigger mode in bit 15). Nil for an address outside the interrupt window or a
    /// reserved delivery mode (011, and 110, which MSIs cannot use for start-up): such a write reaches
    /// no processor.
    public var apicMessage: APICMessage? {
        guard Self.interruptWindow.contains(address) else { return nil }
        let mode = UInt8(truncatingIfNeeded: (data >> 8) & 7)
        guard mode != 6, let deliveryMode = APICMessage.DeliveryMode(rawValue: mode) else { return nil }
        let levelTriggered = data & (1 << 15) != 0
        return APICMessage(
            vector: UInt8(truncatingIfNeeded: data), deliveryMode: deliveryMode,
            logicalDestination: address & (1 << 2) != 0,
            destination: UInt8(truncatingIfNeeded: address >> 12), levelTriggered: levelTriggered,
            // An edge-triggered message always asserts; a level one carries its level in bit 14.
            assert: !levelTriggered || data & (1 << 14) != 0)
    }
}
