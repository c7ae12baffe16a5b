#if canImport(Glibc)
import Glibc
#endif
import CEventFD

/// A Linux eventfd (eventfd(2)): a 64-bit counter in the kernel that `signal` adds one to and
/// `take` reads and clears, waking whoever polls it. A device's doorbells and interrupts are these,
/// because KVM can signal one from inside the kernel on a guest write (KVM_IOEVENTFD) and raise an
/// interrupt when one is signalled (KVM_IRQFD), and another process (a vhost-user back end) can be
/// handed one. Non-blocking: `signal` never waits, even on a counter nobody reads.
public final class EventNotifier: @unchecked Sendable {
    public let fileDescriptor: Int32

    public init() throws(EventNotifierError) {
        fileDescriptor = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard fileDescriptor >= 0 else { throw EventNotifierError(errno: errno) }
    }

    deinit { close(fileDescriptor) }

    /// Adds one to the counter; callable from any thread, allocates nothing. A counter at its
    /// maximum (2^64 - 2 signals nobody took) refuses the write, which still means "signalled".
    @inline(__always)
    public func signal() { Self.signal(fileDescriptor) }

    /// `signal` on a bare descriptor, for tables that keep descriptors rather than objects.
    @inline(__always)
    public static func signal(_ descriptor: Int32) {
        var one: UInt64 = 1
        _ = write(descriptor, &one, 8)
    }

    /// The signals since the last take (0 if none), leaving the counter at zero.
    @discardableResult
    public func take() -> UInt64 {
        var count: UInt64 = 0
        return read(fileDescriptor, &count, 8) == 8 ? count : 0
    }
}

public struct EventNotifierError: VMMError {
    public let errno: Int32
    public var description: String { "could not create an eventfd (errno \(errno))" }
}
