#if canImport(Glibc)
import Glibc
#endif

/// A moment in UTC: the time the RTC starts from.
public struct UTCTime: Equatable, Sendable {
    public var seconds: Int64
    public var nanoseconds: UInt32

    public init(seconds: Int64, nanoseconds: UInt32 = 0) {
        self.seconds = seconds
        self.nanoseconds = nanoseconds
    }

    /// The host's clock (CLOCK_REALTIME, which is UTC on Linux).
    public static func host() -> UTCTime {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UTCTime(seconds: Int64(time.tv_sec), nanoseconds: UInt32(truncatingIfNeeded: time.tv_nsec))
    }
}
