/// The local vector table: how the local APIC's own interrupt sources are delivered
/// (SDM vol. 3, 10.5.1, figure 10-8).
struct LocalVectorTable {
    static let maskBit: UInt32 = 1 << 16
    static let powerUp: UInt32 = maskBit

    var timer = powerUp
    var thermal = powerUp
    var performance = powerUp
    var lint0 = powerUp
    var lint1 = powerUp
    var error = powerUp

    /// Register offsets of the entries, in table order.
    enum Entry: UInt64, CaseIterable {
        case timer = 0x320, thermal = 0x330, performance = 0x340, lint0 = 0x350, lint1 = 0x360, error = 0x370

        /// Bits software may write; delivery status (12) and LINT remote IRR (14) are read-only.
        var writable: UInt32 {
            switch self {
            case .timer: return 0x0007_00FF
            case .lint0, .lint1: return 0x0001_A7FF
            case .error: return 0x0001_00FF
            case .thermal, .performance: return 0x0001_07FF
            }
        }
    }

    subscript(entry: Entry) -> UInt32 {
        get {
            switch entry {
            case .timer: return timer
            case .thermal: return thermal
            case .performance: return performance
            case .lint0: return lint0
            case .lint1: return lint1
            case .error: return error
            }
        }
        set {
            switch entry {
            case .timer: timer = newValue
            case .thermal: thermal = newValue
            case .performance: performance = newValue
            case .lint0: lint0 = newValue
            case .lint1: lint1 = newValue
            case .error: error = newValue
            }
        }
    }

    /// Software disable sets every mask bit (SDM vol. 3, 10.4.7.2).
    mutating func maskAll() {
        for entry in Entry.allCases { self[entry] |= Self.maskBit }
    }

    static func isMasked(_ value: UInt32) -> Bool { value & maskBit != 0 }
    static func vector(_ value: UInt32) -> UInt8 { UInt8(truncatingIfNeeded: value) }
    static func deliveryMode(_ value: UInt32) -> UInt32 { (value >> 8) & 7 }
}
