import Synchronization
import VMMKit

/// The I/O APIC at 0xFEC00000 (82093AA data sheet; version 0x20 adds the EOI register at offset
/// 0x40 as in later chipsets): 24 input pins, each with a redirection entry that turns an asserted
/// pin into an APIC bus message.
///
/// The board supplies `deliver` (to the local APICs) and calls `endOfInterrupt(vector:)` for the
/// local APICs' EOI broadcasts. Deliveries are made with the IOAPIC's lock released, so a local
/// APIC may call back in (EOI) without a lock-order deadlock.
public final class IOAPIC: Device, BusDevice, @unchecked Sendable {
    public static let defaultBase: UInt64 = 0xFEC0_0000
    public static let pinCount = 24

    public let name: String
    public let base: UInt64
    /// Set by the board before the machine runs.
    public var deliver: (@Sendable (APICMessage) -> Void)?

    private struct State {
        var select: UInt8 = 0
        var id: UInt8 = 0
        var entries = [RedirectionEntry](repeating: RedirectionEntry(), count: IOAPIC.pinCount)
        /// Pin levels as driven (before polarity).
        var levels: UInt32 = 0
    }
    private let state = Mutex(State())

    public init(name: String = "ioapic", base: UInt64 = IOAPIC.defaultBase) {
        self.name = name
        self.base = base
    }

    public func attach(to machine: Machine) throws {
        try machine.mmio.claim(base: base, length: 0x1000, by: self, name: name)
    }

    public func reset() { state.withLock { $0 = State() } }

    /// Drives input `pin` (0...23). An edge entry sends on a rising edge while unmasked (a masked
    /// edge is lost, per the data sheet); a level entry sends while asserted, unmasked and not
    /// already awaiting an EOI (remote IRR clear).
    public func setPin(_ pin: Int, high: Bool) {
        guard (0..<Self.pinCount).contains(pin) else { return }
        let message = state.withLock { state -> APICMessage? in
            let bit = UInt32(1) << UInt32(pin)
            let wasHigh = state.levels & bit != 0
            state.levels = high ? state.levels | bit : state.levels & ~bit
            let entry = state.entries[pin]
            if entry.isLevelTriggered { return Self.take(pin, &state) }
            let asserted = high != entry.isActiveLow
            let wasAsserted = wasHigh != entry.isActiveLow
            return asserted && !wasAsserted ? Self.take(pin, &state) : nil
        }
        if let message { deliver?(message) }
    }

    /// A local APIC ended a level-triggered `vector` (or software wrote the EOI register): entries
    /// with that vector drop remote IRR, and a still-asserted line interrupts again.
    public func endOfInterrupt(vector: UInt8) {
        let cleared = state.withLock { state -> UInt32 in
            var cleared: UInt32 = 0
            for pin in 0..<Self.pinCount where state.entries[pin].remoteIRR && state.entries[pin].vector == vector {
                state.entries[pin].remoteIRR = false
                cleared |= 1 << UInt32(pin)
            }
            return cleared
        }
        for pin in 0..<Self.pinCount where cleared & (1 << UInt32(pin)) != 0 { reassert(pin) }
    }

    /// Sends again for a level pin that may still be asserted (after an EOI or an unmask).
    private func reassert(_ pin: Int) {
        let message = state.withLock { state in
            state.entries[pin].isLevelTriggered ? Self.take(pin, &state) : nil
        }
        if let message { deliver?(message) }
    }

    /// The message for `pin` if its entry lets it through now; a level entry then sets remote IRR.
    private static func take(_ pin: Int, _ state: inout State) -> APICMessage? {
        var entry = state.entries[pin]
        let high = state.levels & (UInt32(1) << UInt32(pin)) != 0
        guard !entry.isMasked, !entry.remoteIRR || !entry.isLevelTriggered else { return nil }
        if entry.isLevelTriggered {
            guard high != entry.isActiveLow else { return nil }
            entry.remoteIRR = true
            state.entries[pin] = entry
        }
        return entry.message
    }

    // MARK: Registers (data sheet 3.0, 3.2)

    public func read(_ access: BusAccess) -> UInt64 {
        switch access.offset {
        case 0x00:
            return UInt64(state.withLock { $0.select })
        case 0x10:
            return UInt64(state.withLock { Self.readRegister($0) })
        default:
            return 0
        }
    }

    public func write(_ access: BusAccess, value: UInt64) {
        let dword = UInt32(truncatingIfNeeded: value)
        switch access.offset {
        case 0x00:
            state.withLock { $0.select = UInt8(truncatingIfNeeded: dword) }
        case 0x10:
            let unmaskedPin = state.withLock { Self.writeRegister(&$0, dword) }
            if let unmaskedPin { reassert(unmaskedPin) }
        case 0x40:
            endOfInterrupt(vector: UInt8(truncatingIfNeeded: dword))
        default:
            break
        }
    }

    private static func readRegister(_ state: State) -> UInt32 {
        switch state.select {
        case 0x00: return UInt32(state.id) << 24
        // Version 0x20, maximum redirection entry 23.
        case 0x01: return 0x0017_0020
        // Arbitration ID: the APIC ID, as after the bus's arbitration reset.
        case 0x02: return UInt32(state.id) << 24
        case let index where index >= 0x10 && Int(index - 0x10) < pinCount * 2:
            let entryIndex = Int(index - 0x10)
            return state.entries[entryIndex >> 1].read(dword: entryIndex & 1)
        default: return 0
        }
    }

    /// Writes the selected register; returns a pin whose entry became unmasked (it may be asserted).
    private static func writeRegister(_ state: inout State, _ value: UInt32) -> Int? {
        switch state.select {
        case 0x00:
            state.id = UInt8(truncatingIfNeeded: value >> 24) & 0x0F
            return nil
        case let index where index >= 0x10 && Int(index - 0x10) < pinCount * 2:
            let entryIndex = Int(index - 0x10)
            let pin = entryIndex >> 1
            state.entries[pin].write(dword: entryIndex & 1, value: value)
            return state.entries[pin].isMasked ? nil : pin
        default:
            return nil
        }
    }
}
