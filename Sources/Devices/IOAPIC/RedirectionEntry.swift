import VMMKit

/// One 64-bit IOAPIC redirection table entry (82093AA data sheet, 3.2.4).
struct RedirectionEntry {
    var raw: UInt64 = RedirectionEntry.masked

    static let masked: UInt64 = 1 << 16
    private static let deliveryStatus: UInt64 = 1 << 12
    private static let remoteIRRBit: UInt64 = 1 << 14
    /// Bits software writes: vector, delivery and destination mode, polarity, trigger, mask, destination.
    private static let writable: UInt64 = 0xFF00_0000_0001_AFFF

    var vector: UInt8 { UInt8(truncatingIfNeeded: raw) }
    var isMasked: Bool { raw & Self.masked != 0 }
    var isLevelTriggered: Bool { raw & (1 << 15) != 0 }
    var isActiveLow: Bool { raw & (1 << 13) != 0 }

    /// Set when a level-triggered interrupt was delivered, cleared by the local APIC's EOI.
    var remoteIRR: Bool {
        get { raw & Self.remoteIRRBit != 0 }
        set { raw = newValue ? raw | Self.remoteIRRBit : raw & ~Self.remoteIRRBit }
    }

    /// Replaces the low or high dword as software writes it; read-only bits keep their state, and
    /// an entry switched to edge triggering forgets a stale remote IRR.
    mutating func write(dword: Int, value: UInt32) {
        let shift = UInt64(dword * 32)
        let field: UInt64 = 0xFFFF_FFFF << shift
        let written = (raw & ~field) | (UInt64(value) << shift)
        raw = (written & Self.writable) | (raw & ~Self.writable)
        if !isLevelTriggered { remoteIRR = false }
    }

    func read(dword: Int) -> UInt32 { UInt32(truncatingIfNeeded: raw >> UInt64(dword * 32)) }

    /// The APIC bus message this entry sends; nil for the reserved delivery modes.
    var message: APICMessage? {
        let mode = UInt8(truncatingIfNeeded: raw >> 8) & 7
        guard let deliveryMode = APICMessage.DeliveryMode(rawValue: mode) else { return nil }
        return APICMessage(
            vector: vector, deliveryMode: deliveryMode, logicalDestination: raw & (1 << 11) != 0,
            destination: UInt8(truncatingIfNeeded: raw >> 56), levelTriggered: isLevelTriggered)
    }
}
