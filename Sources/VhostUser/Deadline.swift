#if canImport(Glibc)
import Glibc
#endif

/// A point on the monotonic clock some seconds ahead, for poll's time-outs.
struct Deadline {
    private let end: Double

    init(seconds: Double) { end = Self.now + seconds }

    var remainingMilliseconds: Int32 { Int32(clamping: Int(max(0, (end - Self.now) * 1000).rounded(.up))) }

    private static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
