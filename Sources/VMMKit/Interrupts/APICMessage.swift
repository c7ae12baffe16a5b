/// An interrupt message on the APIC bus: what an IOAPIC redirection entry or a local APIC's
/// interrupt command register sends to local APICs (SDM vol. 3, 10.6.1 and 10.11; 82093AA IOAPIC
/// data sheet, 3.2.4). A value type shared by the IOAPIC and local APIC modules, so the board
/// passes messages between them without knowing either format.
public struct APICMessage: Equatable, Sendable {
    /// The delivery mode field (SDM vol. 3, table 10-1 / figure 10-12); 3 is reserved.
    public enum DeliveryMode: UInt8, Sendable {
        case fixed = 0
        case lowestPriority = 1
        case systemManagement = 2
        case nonMaskable = 4
        case initialize = 5
        case startup = 6
        /// The target CPU asks the 8259 PIC for the vector (an INTA cycle), as for LINT0 ExtINT.
        case external = 7
    }

    public var vector: UInt8
    public var deliveryMode: DeliveryMode
    /// Logical destination mode (matched against LDR/DFR) rather than physical (the APIC ID).
    public var logicalDestination: Bool
    /// The 8-bit xAPIC destination; 0xFF is the broadcast address.
    public var destination: UInt8
    public var levelTriggered: Bool
    /// False only for an INIT level de-assert, which real CPUs ignore (SDM vol. 3, 10.6.1).
    public var assert: Bool

    public init(vector: UInt8, deliveryMode: DeliveryMode, logicalDestination: Bool = false,
                destination: UInt8, levelTriggered: Bool = false, assert: Bool = true) {
        self.vector = vector
        self.deliveryMode = deliveryMode
        self.logicalDestination = logicalDestination
        self.destination = destination
        self.levelTriggered = levelTriggered
        self.assert = assert
    }
}
