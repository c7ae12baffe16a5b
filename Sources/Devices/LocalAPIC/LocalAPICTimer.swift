/// The local APIC timer (SDM vol. 3, 10.5.4): one-shot, periodic and TSC-deadline modes.
///
/// The bus clock is 1 GHz, as in KVM: one timer tick per nanosecond before the divider. The TSC the
/// deadline mode compares with is a virtual TSC equal to the host's CLOCK_MONOTONIC in nanoseconds
/// (a 1 GHz TSC); backends that want TSC-deadline guests to see consistent times report that TSC.
///
/// Periodic expiries sit on a grid of absolute boundaries (start + n * period), never "now + period",
/// so a host timer thread that wakes late neither stretches the period nor drops the expiries it
/// slept through: those are owed and delivered one per acknowledge (see `LocalAPICState.expireTimer`).
struct LocalAPICTimer {
    enum Mode: UInt32 {
        case oneShot = 0, periodic = 1, tscDeadline = 2
    }

    /// The period boundaries a late host timer found passed at once: `count` expiries, the first at
    /// `first`, each `period` after the previous one. A one-shot or deadline expiry has period 0.
    struct Expiry: Equatable {
        let first: UInt64
        let count: UInt64
        let period: UInt64

        /// How many of the boundaries fall at or after `time`. A one-shot or deadline expiry, armed
        /// by the guest itself, always counts.
        func count(from time: UInt64) -> UInt64 {
            guard period > 0, time > first else { return count }
            let skipped = (time - first + period - 1) / period
            return count > skipped ? count - skipped : 0
        }
    }

    /// A periodic timer never fires more often than this, so a hostile guest cannot make the host
    /// timer thread spin (KVM similarly enforces a minimum period).
    static let minimumPeriod: UInt64 = 100_000
    /// Owed expiries are capped at one second of periods, so a host stall that long (a stopped
    /// process) is not replayed as an interrupt storm.
    static let catchUpLimit: UInt64 = 1_000_000_000

    var initialCount: UInt32 = 0
    var divideConfiguration: UInt32 = 0
    /// When the counter was last loaded from the initial count; nil when it is not counting.
    var periodStart: UInt64?
    /// The IA32_TSC_DEADLINE value, 0 when disarmed.
    var tscDeadline: UInt64 = 0
    /// Periodic expiries the host timer thread slept through that are still to be delivered.
    private(set) var owedExpiries: UInt64 = 0
    /// When the guest last took the timer's vector from IRR into service (INTA).
    var acknowledgedAt: UInt64 = 0

    /// Divide configuration bits 3, 1 and 0 select 2, 4, ... 128, or 1 (SDM vol. 3, figure 10-10).
    var divisor: UInt64 {
        let code = (divideConfiguration & 3) | ((divideConfiguration >> 1) & 4)
        return 1 << UInt64((code + 1) & 7)
    }

    private var countingSpan: UInt64 { UInt64(initialCount) * divisor }

    private func period(_ mode: Mode) -> UInt64 {
        mode == .periodic ? max(countingSpan, Self.minimumPeriod) : countingSpan
    }

    func currentCount(now: UInt64, mode: Mode) -> UInt32 {
        guard mode != .tscDeadline, let start = periodStart, initialCount != 0 else { return 0 }
        let elapsed = now > start ? now - start : 0
        let intoPeriod = mode == .periodic ? elapsed % period(mode) : elapsed
        let ticks = intoPeriod / divisor
        return ticks >= UInt64(initialCount) ? 0 : initialCount - UInt32(ticks)
    }

    /// When the timer next expires, in nanoseconds, or nil when it is not armed.
    func deadline(mode: Mode) -> UInt64? {
        if mode == .tscDeadline { return tscDeadline == 0 ? nil : tscDeadline }
        guard let start = periodStart, initialCount != 0 else { return nil }
        return start &+ period(mode)
    }

    /// If the timer has expired by `now`, advances it and returns the expiries since it last fired:
    /// in periodic mode every boundary up to `now`, with the next deadline the boundary after it.
    mutating func expire(now: UInt64, mode: Mode) -> Expiry? {
        guard let deadline = deadline(mode: mode), now >= deadline else { return nil }
        switch mode {
        case .tscDeadline:
            tscDeadline = 0
        case .oneShot:
            periodStart = nil
        case .periodic:
            let span = period(mode)
            let later = (now - deadline) / span
            periodStart = deadline + later * span
            return Expiry(first: deadline, count: later + 1, period: span)
        }
        return Expiry(first: deadline, count: 1, period: 0)
    }

    mutating func owe(_ expiries: UInt64, period: UInt64) {
        owedExpiries = min(owedExpiries + expiries, max(Self.catchUpLimit / max(period, 1), 1))
    }

    /// Takes one owed expiry, if any.
    mutating func takeOwedExpiry() -> Bool {
        guard owedExpiries > 0 else { return false }
        owedExpiries -= 1
        return true
    }

    mutating func forgetOwedExpiries() { owedExpiries = 0 }

    /// A write to the initial count register (ignored in TSC-deadline mode); 0 stops the timer.
    mutating func load(_ count: UInt32, now: UInt64, mode: Mode) {
        guard mode != .tscDeadline else { return }
        initialCount = count
        periodStart = count == 0 ? nil : now
        owedExpiries = 0
    }

    /// Switching into or out of TSC-deadline mode disarms the timer (SDM vol. 3, 10.5.4.1).
    mutating func changeMode(from old: Mode, to new: Mode) {
        guard old != new, old == .tscDeadline || new == .tscDeadline else { return }
        periodStart = nil
        tscDeadline = 0
    }
}
