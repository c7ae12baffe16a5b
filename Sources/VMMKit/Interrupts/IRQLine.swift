/// One interrupt request line a device drives: ISA IRQ n, wired by the board to a PIC input and an
/// IOAPIC pin. The device knows only raise/lower; where it lands is the sink's business.
///
/// The sink is unowned: the machine owns its `InterruptRouter` (and a unit test its recorder), and
/// the interrupt controllers' own devices hold lines into it, which must not form a cycle.
public final class IRQLine {
    public let number: Int
    private unowned let sink: any InterruptSink

    /// A line into `sink`; devices get theirs from `Machine.irqLine(_:)`, tests may make one directly.
    public init(number: Int, sink: any InterruptSink) {
        self.number = number
        self.sink = sink
    }

    public func raise() { sink.setLine(number, high: true) }
    public func lower() { sink.setLine(number, high: false) }

    /// An edge: raise then lower, for edge-triggered sources.
    public func pulse() {
        raise()
        lower()
    }
}
