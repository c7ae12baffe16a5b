import Synchronization

/// One MSI source's eventfd and what it was last routed to: a device that sends MSIs through
/// `InterruptSink.send(_:through:)` interrupts with a write to `event` wherever the sink can route
/// eventfds to messages (KVM's in-kernel irqchip: KVM_IRQFD on a GSI whose routing entry is the
/// message), so the interrupt is raised inside the kernel, as a vhost back end's would be.
/// The route is made on first use and again when the message or the sink's VM changes (a guest
/// that rewrites the MSI-X entry, a reboot), never while the vector is masked: the sender keeps a
/// masked vector pending itself and signals nothing.
public final class MSIEventRoute: @unchecked Sendable {
    public let event: EventNotifier
    /// The router generation and message `event` is routed to now, nil before the first route.
    private let routed = Mutex<(generation: UInt64, message: MSIMessage)?>(nil)

    public init() throws(EventNotifierError) { event = try EventNotifier() }

    /// Signals `event` for `message` on `routing` (generation `generation`), routing it first where
    /// that is not what it is routed to; false when the routing refused, so the caller sends
    /// `message` the ordinary way.
    func signal(_ message: MSIMessage, on routing: any MSIEventRouting, generation: UInt64) -> Bool {
        let ready = routed.withLock { routed in
            if let routed, routed.generation == generation, routed.message == message { return true }
            guard routing.route(event, to: message) else { return false }
            routed = (generation, message)
            return true
        }
        if ready { event.signal() }
        return ready
    }
}

/// An interrupt sink that raises MSIs when eventfds are signalled (KVM_IRQFD), without the sender
/// calling into it.
public protocol MSIEventRouting: AnyObject, Sendable {
    /// From now on a signal of `event` delivers `message` (replacing what it delivered before);
    /// false if the backend cannot.
    func route(_ event: EventNotifier, to message: MSIMessage) -> Bool
}
