import Synchronization

/// The machine's one connection point for device interrupts: every `IRQLine` of the machine points
/// here, and the board (our userspace controllers) or the backend (KVM's in-kernel irqchip, which
/// exists only once the VM does) connects the sink behind it before the guest runs. Lines driven
/// before a sink is connected go nowhere, as on a board whose controllers are still in reset.
///
/// The sink changes while device threads run when the machine reboots onto a new VM (KVM's
/// in-kernel irqchip belongs to the VM), so it is read under a lock and called after it.
///
/// Each connection has a generation number, so an `MSIEventRoute` made for an earlier boot's VM is
/// made again for the new one.
public final class InterruptRouter: InterruptSink, @unchecked Sendable {
    private struct Connection {
        var sink: (any InterruptSink)?
        var routing: (any MSIEventRouting)?
        var generation: UInt64 = 0
    }

    private let connected = Mutex(Connection())

    public init() {}

    public var sink: (any InterruptSink)? { connected.withLock { $0.sink } }

    public func connect(_ sink: any InterruptSink) {
        connected.withLock { $0 = Connection(sink: sink, routing: sink as? any MSIEventRouting, generation: $0.generation + 1) }
    }

    /// Lines driven from now on go nowhere, until the next `connect`.
    public func disconnect() { connected.withLock { $0 = Connection(generation: $0.generation + 1) } }

    public func setLine(_ line: Int, high: Bool) { sink?.setLine(line, high: high) }

    public func send(_ message: MSIMessage) { sink?.send(message) }

    /// Through `route`'s eventfd where the connected sink routes eventfds (KVM_IRQFD), else `send`.
    public func send(_ message: MSIMessage, through route: MSIEventRoute) {
        let connection = connected.withLock { $0 }
        if let routing = connection.routing, route.signal(message, on: routing, generation: connection.generation) { return }
        connection.sink?.send(message)
    }
}
