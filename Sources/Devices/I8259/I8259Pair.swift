import Synchronization
import VMMKit

/// The PC's two cascaded 8259A PICs: master at ports 0x20/0x21 (ISA IRQ 0-7), slave at 0xa0/0xa1
/// (IRQ 8-15) on master input 2, and the PIIX edge/level control registers at 0x4d0/0x4d1.
///
/// One lock guards both chips (the cascade couples them). The board learns of a rising INT output
/// through `onInterruptOutputRaised`, called with no lock held, and then runs the INTA cycle with
/// `acknowledge()` from the vCPU that takes the interrupt.
public final class I8259Pair: Device, BusDevice, @unchecked Sendable {
    public let name: String
    private struct Chips {
        var master = I8259Chip(isMaster: true)
        var slave = I8259Chip(isMaster: false)
        var output = false
    }
    private let chips = Mutex(Chips())
    /// Set by the board before the machine runs: the master's INT pin went from low to high.
    public var onInterruptOutputRaised: (@Sendable () -> Void)?

    public init(name: String = "i8259") { self.name = name }

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: 0x20, length: 2, by: self, name: "\(name) master")
        try machine.ports.claim(base: 0xA0, length: 2, by: self, name: "\(name) slave")
        try machine.ports.claim(base: 0x4D0, length: 2, by: self, name: "\(name) ELCR")
    }

    public func reset() {
        chips.withLock { $0 = Chips() }
    }

    /// Drives ISA IRQ `irq` (0...15); other numbers are not wired to the PICs and are ignored.
    public func setInput(_ irq: Int, high: Bool) {
        guard (0..<16).contains(irq) else { return }
        update { chips in
            if irq < 8 {
                chips.master.setInput(UInt8(irq), high: high)
            } else {
                chips.slave.setInput(UInt8(irq - 8), high: high)
            }
        }
    }

    /// The master's INT pin: an unmasked request outranks everything in service.
    public var interruptOutput: Bool { chips.withLock { $0.output } }

    /// The INTA cycle: the vector of the highest-priority request, entering service. When the
    /// request went away before the acknowledge, the chip answers IRQ 7 (or 15 on the slave, with
    /// master input 2 in service) without setting its own in-service bit (data sheet, "Interrupt
    /// Sequence"; the guest recognizes the spurious case by the clear ISR bit).
    public func acknowledge() -> UInt8 {
        update { chips in
            guard let input = chips.master.pendingInput else { return chips.master.vectorBase | 7 }
            guard input == 2 && !chips.master.singleMode else {
                chips.master.acknowledge(input)
                return chips.master.vectorBase | input
            }
            chips.master.acknowledge(2)
            guard let slaveInput = chips.slave.pendingInput else { return chips.slave.vectorBase | 7 }
            chips.slave.acknowledge(slaveInput)
            return chips.slave.vectorBase | slaveInput
        }
    }

    // MARK: BusDevice

    public func read(_ access: BusAccess) -> UInt64 {
        UInt64(update { chips in
            switch access.address {
            case 0x20: return Self.readCommandPort(&chips.master)
            case 0x21: return chips.master.mask
            case 0xA0: return Self.readCommandPort(&chips.slave)
            case 0xA1: return chips.slave.mask
            case 0x4D0: return chips.master.levelTriggered
            case 0x4D1: return chips.slave.levelTriggered
            default: return 0xFF
            }
        })
    }

    public func write(_ access: BusAccess, value: UInt64) {
        let byte = UInt8(truncatingIfNeeded: value)
        update { chips in
            switch access.address {
            case 0x20: chips.master.writeCommand(byte)
            case 0x21: chips.master.writeData(byte)
            case 0xA0: chips.slave.writeCommand(byte)
            case 0xA1: chips.slave.writeData(byte)
            case 0x4D0: chips.master.writeLevelTriggered(byte)
            case 0x4D1: chips.slave.writeLevelTriggered(byte)
            default: break
            }
        }
    }

    /// Port 0 read: a pending poll command answers like an INTA (bit 7 set and the input number,
    /// or 0 when nothing is requested); otherwise IRR or ISR.
    private static func readCommandPort(_ chip: inout I8259Chip) -> UInt8 {
        guard chip.pollPending else { return chip.statusRead }
        chip.pollPending = false
        guard let input = chip.pendingInput else { return 0 }
        chip.acknowledge(input)
        return 0x80 | input
    }

    /// Runs `body` under the lock, re-propagates the slave's INT to master input 2, and reports a
    /// rising master INT to the board after unlocking.
    private func update<T>(_ body: (inout Chips) -> T) -> T {
        let (result, raised) = chips.withLock { chips -> (T, Bool) in
            let result = body(&chips)
            chips.master.setInput(2, high: chips.slave.interruptOutput)
            let output = chips.master.interruptOutput
            defer { chips.output = output }
            return (result, output && !chips.output)
        }
        if raised { onInterruptOutputRaised?() }
        return result
    }
}
