/// The machine's one connection point for device interrupts: every `IRQLine` of the machine points
/// here, and the board (our userspace controllers) or the backend (KVM's in-kernel irqchip, which
/// exists only once the VM does) connects the sink behind it before the guest runs. Lines driven
/// before a sink is connected go nowhere, as on a board whose controllers are still in reset.
///
/// `connect` happens during assembly, on one thread, before the vCPU and device threads start, so
/// the sink needs no lock to be read afterwards.
public final class InterruptRouter: InterruptSink, @unchecked Sendable {
    public private(set) var sink: (any InterruptSink)?

    public init() {}

    public func connect(_ sink: any InterruptSink) { self.sink = sink }

    public func setLine(_ line: Int, high: Bool) { sink?.setLine(line, high: high) }

    public func send(_ message: MSIMessage) { sink?.send(message) }
}
