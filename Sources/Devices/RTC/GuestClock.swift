/// The guest's UTC time of day, kept as a reading at one instant of the machine's monotonic clock.
///
/// Time moves with `DeviceTimers.now`, the clock the interrupt deadlines use, so update and alarm
/// interrupts land exactly on the guest's second boundaries; a host clock step (NTP) does not make
/// the guest's clock jump. `running` is false while SET is 1 or the divider chain is held in reset
/// (MC146818A data sheet, "Register A" DV bits and "Register B" SET).
struct GuestClock {
    static let nanosecondsPerSecond: UInt64 = 1_000_000_000

    /// Guest seconds since the Unix epoch at `since`.
    private(set) var seconds: Int64
    /// Nanoseconds into that second at `since`, below one second.
    private(set) var nanoseconds: UInt64
    /// The monotonic time of this reading.
    private(set) var since: UInt64
    private(set) var running = true

    init(unixSeconds: Int64, nanoseconds: UInt64, at now: UInt64) {
        seconds = unixSeconds
        self.nanoseconds = nanoseconds % Self.nanosecondsPerSecond
        since = now
    }

    /// The guest time at monotonic `now`.
    func reading(at now: UInt64) -> (seconds: Int64, nanoseconds: UInt64) {
        guard running, now > since else { return (seconds, nanoseconds) }
        let total = nanoseconds &+ (now - since)
        return (seconds &+ Int64(total / Self.nanosecondsPerSecond), total % Self.nanosecondsPerSecond)
    }

    /// Freezes the clock at its reading at `now`.
    mutating func stop(at now: UInt64) {
        (seconds, nanoseconds) = reading(at: now)
        since = now
        running = false
    }

    /// Lets a stopped clock run on from `now`; with `nanoseconds` the position within the second
    /// is set too (leaving divider reset starts half a second before the next update).
    mutating func start(at now: UInt64, nanoseconds: UInt64? = nil) {
        guard !running else { return }
        if let nanoseconds { self.nanoseconds = nanoseconds % Self.nanosecondsPerSecond }
        since = now
        running = true
    }

    /// Sets the second the guest wrote, keeping the position within the current second (the
    /// divider chain is not reset by writing the time registers).
    mutating func set(unixSeconds: Int64, at now: UInt64) {
        nanoseconds = reading(at: now).nanoseconds
        seconds = unixSeconds
        since = now
    }

    /// The monotonic time at which guest second `second` begins, for a running clock; nil when it
    /// is not ahead of the current reading or the clock is stopped.
    func monotonicTime(ofSecond second: Int64) -> UInt64? {
        guard running, second > seconds else { return nil }
        let ahead = UInt64(second - seconds).multipliedReportingOverflow(by: Self.nanosecondsPerSecond)
        let deadline = since.addingReportingOverflow(ahead.partialValue - nanoseconds)
        return ahead.overflow || deadline.overflow ? nil : deadline.partialValue
    }
}
