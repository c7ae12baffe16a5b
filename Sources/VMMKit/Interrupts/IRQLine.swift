/// One interrupt request line a device drives: ISA IRQ n, wired by the board to a PIC input and an
/// IOAPIC pin. The device knows only raise/lower; where it lands is the board's business.
public final class IRQLine {
    public let number: Int
    private unowned let machine: Machine

    init(number: Int, machine: Machine) {
        self.number = number
        self.machine = machine
    }

    public func raise() { machine.interruptController.setLine(number, high: true) }
    public func lower() { machine.interruptController.setLine(number, high: false) }

    /// An edge: raise then lower, for edge-triggered sources.
    public func pulse() {
        raise()
        lower()
    }
}
