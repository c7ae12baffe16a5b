/// Where device interrupts go: the side of the interrupt controllers that devices and the board
/// see. A device drives its lines (through `IRQLine`) and a PCI function writes MSIs; which
/// controller receives them (our PIC/IOAPIC/local APICs, or KVM's in-kernel irqchip) is the board's
/// and the backend's business.
///
/// Called from vCPU threads, device threads and the timer thread at once: implementations lock
/// their own state, and never call back into the device that raised the line.
public protocol InterruptSink: AnyObject, Sendable {
    /// Drives an input line (an ISA IRQ / IOAPIC pin number) to `high` or low.
    func setLine(_ line: Int, high: Bool)

    /// Delivers a message-signalled interrupt: the memory write a PCI function's MSI or MSI-X
    /// table entry describes (PCI Local Bus 3.0, 6.8; SDM vol. 3, 10.11).
    func send(_ message: MSIMessage)

    /// Delivers `message` on behalf of `route`'s source: by signalling its eventfd where the sink
    /// routes eventfds to MSIs in the backend (KVM_IRQFD), else as `send`.
    func send(_ message: MSIMessage, through route: MSIEventRoute)
}

extension InterruptSink {
    public func send(_ message: MSIMessage, through route: MSIEventRoute) { send(message) }
}
