/// The periodic interrupt rate of register A's RS3-RS0 bits, on the PC's 32.768 kHz time base
/// (MC146818A data sheet, table "Periodic Interrupt Rate and Square-Wave Output Frequency"):
/// rate 0 is off, rates 3-15 give 32768 >> (rate - 1) Hz, and rates 1 and 2 give 256 and 128 Hz.
///
/// The fastest rate is therefore 8192 Hz. The 4.194304 and 1.048576 MHz time bases (DV 000 and 001)
/// would make rates 1 and 2 32768 and 16384 Hz; like QEMU we keep the 32.768 kHz table for every
/// running divider, which is what caps a hostile guest at 8192 timer wake-ups a second, and those
/// only while it keeps reading register C (an unacknowledged IRQF arms no timer at all).
struct PeriodicRate: Equatable {
    static let maximumFrequency: UInt64 = 8192

    /// Interrupts per second.
    let frequency: UInt64

    /// nil for rate 0 (no periodic interrupt).
    init?(registerA: UInt8) {
        let rate = registerA & RegisterA.rateMask
        let table: UInt64
        switch rate {
        case 0: return nil
        case 1, 2: table = 32_768 >> (rate + 6)
        default: table = 32_768 >> (rate - 1)
        }
        frequency = min(table, Self.maximumFrequency)
    }

    /// Whole periods elapsed in `nanoseconds`.
    func periods(in nanoseconds: UInt64) -> UInt64 {
        let product = nanoseconds.multipliedFullWidth(by: frequency)
        return GuestClock.nanosecondsPerSecond.dividingFullWidth(product).quotient
    }

    /// The first nanosecond by which `periods` whole periods have elapsed.
    func nanoseconds(toPeriod periods: UInt64) -> UInt64 {
        let product = periods.multipliedFullWidth(by: GuestClock.nanosecondsPerSecond)
        // Centuries of periods would not fit; such a deadline is never reached anyway.
        guard product.high < frequency else { return .max }
        let (quotient, remainder) = frequency.dividingFullWidth(product)
        return quotient == .max ? quotient : quotient + (remainder == 0 ? 0 : 1)
    }
}
