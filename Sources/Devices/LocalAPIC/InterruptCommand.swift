import VMMKit

/// An IPI as written to the interrupt command register (SDM vol. 3, 10.6.1, figure 10-12).
struct InterruptCommand {
    /// ICR bits 19:18.
    enum Shorthand: UInt32 {
        case none = 0, this = 1, allIncludingSelf = 2, allExcludingSelf = 3
    }

    let message: APICMessage
    let shorthand: Shorthand

    /// Decodes ICR low/high; nil for the reserved delivery mode and for ExtINT, which no IPI may use.
    init?(low: UInt32, high: UInt32) {
        let mode = UInt8(truncatingIfNeeded: (low >> 8) & 7)
        guard let deliveryMode = APICMessage.DeliveryMode(rawValue: mode), deliveryMode != .external else {
            return nil
        }
        message = APICMessage(
            vector: UInt8(truncatingIfNeeded: low), deliveryMode: deliveryMode,
            logicalDestination: low & (1 << 11) != 0, destination: UInt8(truncatingIfNeeded: high >> 24),
            levelTriggered: low & (1 << 15) != 0, assert: low & (1 << 14) != 0 || deliveryMode != .initialize)
        shorthand = Shorthand(rawValue: (low >> 18) & 3) ?? .none
    }
}
