import Synchronization

/// The machine's one connection point for device interrupts: every `IRQLine` of the machine points
/// here, and the board (our userspace controllers) or the backend (KVM's in-kernel irqchip, which
/// exists only once the VM does) connects the sink behind it before the guest runs. Lines driven
/// before a sink is connected go nowhere, as on a board whose controllers are still in reset.
///
/// The sink changes while device threads run when the machine reboots onto a new VM (KVM's
/// in-kernel irqchip belongs to the VM), so it is read under a lock and called after it.
public final class InterruptRouter: InterruptSink, @unchecked Sendable {
    private let connected = Mutex<(any InterruptSink)?>(nil)

    public init() {}

    public var sink: (any InterruptSink)? { connected.withLock { $0 } }

    public func connect(_ sink: any InterruptSink) { connected.withLock { $0 = sink } }

    /// Lines driven from now on go nowhere, until the next `connect`.
    public func disconnect() { connected.withLock { $0 = nil } }

    public func setLine(_ line: Int, high: Bool) { sink?.setLine(line, high: high) }

    public func send(_ message: MSIMessage) { sink?.send(message) }
}
