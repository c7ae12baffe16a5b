import Synchronization
import VMMKit

/// A 16550A UART on the port bus (COM1 by default: ports 0x3f8-0x3ff, ISA IRQ 4): the register
/// behaviour only. What it transmits goes to a `ByteSink` and what it receives comes from an
/// optional `ByteSource`; the board connects those to the host (see the HostIO module).
///
/// vCPU threads and the host input thread both reach it, so all register state sits behind one
/// lock. The IRQ level is requested under that lock and driven after it (`DeferredIRQLine`), so
/// the line ends at the level of the last state change whichever thread settles last.
public final class Serial16550: Device, BusDevice, @unchecked Sendable {
    public static let com1Port: UInt64 = 0x3f8
    public static let com1IRQ = 4

    public let name: String
    public let port: UInt64
    public let irq: Int
    /// Where transmitted bytes go.
    public let output: any ByteSink

    private struct Locked {
        var uart = UARTState()
        /// The level last requested on the line, so an access that changes nothing touches it not.
        var lineHigh = false
    }

    private let state = Mutex(Locked())
    /// Where received bytes come from, if anywhere.
    public let input: (any ByteSource)?
    private var line: DeferredIRQLine?

    /// A UART at `port` on IRQ `irq`, sending to `output` and, once attached, receiving from `input`.
    public init(name: String? = nil, port: UInt64 = com1Port, irq: Int = com1IRQ, output: any ByteSink,
                input: (any ByteSource)? = nil) {
        self.name = name ?? "serial@0x\(String(port, radix: 16))"
        self.port = port
        self.irq = irq
        self.output = output
        self.input = input
    }

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: port, length: UARTRegister.count, by: self, name: name)
        line = DeferredIRQLine(try machine.claimIRQLine(irq, by: name))
        try input?.start { [unowned self] bytes in acceptHostInput(bytes) }
    }

    public func reset() {
        update { $0 = UARTState() }
    }

    public func stop() {
        input?.stop()
        output.close()
    }

    // MARK: BusDevice

    /// Wider accesses are split into byte accesses of consecutive registers, as the 8-bit UART on
    /// an ISA bus would see them.
    public func read(_ access: BusAccess) -> UInt64 {
        var value: UInt64 = 0
        update { uart in
            for byte in 0..<access.size {
                let register = access.offset + UInt64(byte)
                let registerValue = register < UARTRegister.count ? uart.read(register) : 0xff
                value |= UInt64(registerValue) << UInt64(byte * 8)
            }
        }
        return value
    }

    public func write(_ access: BusAccess, value: UInt64) {
        update { uart in
            for byte in 0..<access.size {
                let register = access.offset + UInt64(byte)
                guard register < UARTRegister.count else { break }
                if let sent = uart.write(register, UInt8(truncatingIfNeeded: value >> UInt64(byte * 8))) {
                    output.write(sent)
                }
            }
        }
    }

    // MARK: Input

    /// Bytes arriving on the serial line, as the data sheet describes: each byte the receiver has
    /// no room for is lost and sets LSR.OE. Tests and embedders use this; host stdin goes through
    /// the flow-controlled `ByteSource` path instead.
    public func receive(_ bytes: [UInt8]) {
        update { uart in
            for byte in bytes { uart.receive(byte) }
        }
    }

    /// A break condition on the serial line (see `UARTState.receiveBreak`).
    public func receiveBreak() {
        update { $0.receiveBreak() }
    }

    /// Host input: takes as many bytes as the UART has room for now (see `hostInputSpace`).
    private func acceptHostInput(_ bytes: UnsafeRawBufferPointer) -> Int {
        var accepted = 0
        update { uart in
            accepted = min(bytes.count, uart.hostInputSpace)
            for byte in bytes.prefix(accepted) { uart.receive(byte) }
        }
        return accepted
    }

    /// Runs `change` on the registers, then moves the IRQ line if the interrupt state changed, and
    /// wakes the host input thread if the change made room for its input.
    private func update(_ change: (inout UARTState) -> Void) {
        let (moved, madeRoom) = state.withLock { locked -> (Bool, Bool) in
            let roomBefore = locked.uart.hostInputSpace
            change(&locked.uart)
            let pending = locked.uart.interruptPending
            let moved = pending != locked.lineHigh
            if moved {
                locked.lineHigh = pending
                line?.request(high: pending)
            }
            return (moved, locked.uart.hostInputSpace > roomBefore)
        }
        if moved { line?.settle() }
        if madeRoom { input?.noteSpaceAvailable() }
    }
}
