/// The deadline a device's host timer is armed for, kept in the device's locked state beside the
/// registers it is computed from.
///
/// After every change a device asks its state for the next deadline and passes it to `rearm`, which
/// touches the timer service only when the deadline moved; a timer that fired is no longer armed,
/// which the expiry callback records with `fired()` before it re-arms. (The PIT, the RTC and each
/// local APIC follow this pattern.)
public struct TimerArming: Sendable {
    private var deadline: UInt64?

    public init() {}

    /// The timer just fired, so nothing is armed until `rearm` says otherwise.
    public mutating func fired() { deadline = nil }

    /// Arms `timer` for `next`, or cancels it for nil, unless it already stands there. Safe under the
    /// device's lock: the timer service's lock is a leaf.
    public mutating func rearm(_ timer: DeviceTimer?, for next: UInt64?) {
        guard next != deadline else { return }
        deadline = next
        if let next { timer?.arm(at: next) } else { timer?.cancel() }
    }
}
