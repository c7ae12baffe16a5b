/// The register behaviour of an 8042 keyboard controller with a keyboard and no auxiliary (mouse)
/// port, as an OS probes it (IBM PS/2 Hardware Interface Technical Reference, "Keyboard and
/// auxiliary device controller"; the command set as QEMU's hw/input/pckbd.c implements it): the
/// status register at 0x64, commands written to 0x64, data and command arguments through 0x60,
/// and one output buffer (a short queue here, as the keyboard's own buffer backs the controller's).
///
/// No auxiliary device: its interface test (0xA9) reports the clock line stuck high, as the lines
/// of an empty port float, and bytes for it (0xD3, 0xD4) go nowhere; Linux then registers only the
/// keyboard port.
struct I8042Controller {
    /// Status register bits.
    enum Status {
        static let outputFull: UInt8 = 0x01
        static let systemFlag: UInt8 = 0x04
        /// The last write went to the command port.
        static let command: UInt8 = 0x08
        /// The keyboard is not inhibited by the key lock.
        static let unlocked: UInt8 = 0x10
    }

    /// Command byte bits.
    enum CommandByte {
        static let keyboardInterrupt: UInt8 = 0x01
        static let systemFlag: UInt8 = 0x04
        static let keyboardDisabled: UInt8 = 0x10
        static let auxiliaryDisabled: UInt8 = 0x20
        /// As firmware leaves it: keyboard interrupt on, POST passed, no mouse, scan codes
        /// translated to set 1.
        static let afterFirmware: UInt8 = 0x65
    }

    /// The output port after reset: the reset line (bit 0) and A20 (bit 1) high, the unused bits as
    /// QEMU reports them.
    static let outputPortAfterReset: UInt8 = 0xCF
    static let selfTestPassed: UInt8 = 0x55
    static let interfaceTestPassed: UInt8 = 0x00
    static let clockLineStuckHigh: UInt8 = 0x02
    /// The controller buffers no more than this; more is dropped, as a full keyboard buffer does.
    static let outputCapacity = 16

    /// What a write asks of the machine.
    enum Effect: Equatable {
        case none
        /// Bit 0 of the output port (the CPU's reset line) went low: a pulse command (0xF0-0xFF with
        /// bit 0 clear; 0xFE is the usual one) or an output-port write with bit 0 clear.
        case resetRequested
    }

    private(set) var commandByte = CommandByte.afterFirmware
    private(set) var outputPort = outputPortAfterReset
    private var systemFlag = true
    private var lastWriteWasCommand = false
    /// A command (0x60 write command byte, 0xD1 write output port, 0xD2-0xD4 write a buffer)
    /// waiting for its data byte at 0x60.
    private var awaitingData: UInt8?
    private var output: [UInt8] = []
    /// What 0x60 reads with the buffer empty: the last byte again, as the latch holds it.
    private var lastRead: UInt8 = 0
    private var keyboard = PS2Keyboard()

    var status: UInt8 {
        (output.isEmpty ? 0 : Status.outputFull) | (systemFlag ? Status.systemFlag : 0)
            | (lastWriteWasCommand ? Status.command : 0) | Status.unlocked
    }

    /// Whether IRQ 1 is asserted: a byte waits and the command byte enables the interrupt.
    var interruptRequested: Bool { !output.isEmpty && commandByte & CommandByte.keyboardInterrupt != 0 }

    /// Port 0x60: the next byte of output, or `lastRead` when there is none.
    mutating func readData() -> UInt8 {
        guard !output.isEmpty else { return lastRead }
        lastRead = output.removeFirst()
        return lastRead
    }

    mutating func writeData(_ byte: UInt8) -> Effect {
        lastWriteWasCommand = false
        guard let command = awaitingData else {
            // Sending to the keyboard enables its interface again (as QEMU's pckbd does).
            commandByte &= ~CommandByte.keyboardDisabled
            queue(keyboard.receive(byte))
            return .none
        }
        awaitingData = nil
        switch command {
        case 0x60:
            commandByte = byte
            systemFlag = byte & CommandByte.systemFlag != 0
        case 0xD1:
            outputPort = byte
            if byte & 1 == 0 { return .resetRequested }
        case 0xD2:
            queue([byte])
        default:
            break // 0xD3, 0xD4: for the auxiliary device, which is not there; 0x61-0x7F: internal RAM
        }
        return .none
    }

    mutating func writeCommand(_ command: UInt8) -> Effect {
        lastWriteWasCommand = true
        switch command {
        case 0x20:
            queue([commandByte])
        case 0x21...0x3F:
            queue([0]) // internal RAM, which nothing here uses
        case 0x60...0x7F, 0xD1...0xD4:
            awaitingData = command
        case 0xA7:
            commandByte |= CommandByte.auxiliaryDisabled
        case 0xA8:
            commandByte &= ~CommandByte.auxiliaryDisabled
        case 0xA9:
            queue([Self.clockLineStuckHigh])
        case 0xAA:
            systemFlag = true
            queue([Self.selfTestPassed])
        case 0xAB:
            queue([Self.interfaceTestPassed])
        case 0xAD:
            commandByte |= CommandByte.keyboardDisabled
        case 0xAE:
            commandByte &= ~CommandByte.keyboardDisabled
        case 0xC0:
            queue([0x80]) // input port: keyboard not inhibited
        case 0xD0:
            queue([outputPort])
        case 0xDD:
            outputPort &= ~0x02 // A20 off; vmm does not wrap addresses, as a PC with A20 on
        case 0xDF:
            outputPort |= 0x02
        case 0xE0:
            queue([0]) // test inputs
        case 0xF0...0xFF:
            // Pulse the output port's bits 0-3 whose command bits are clear; bit 0 is the reset line.
            if command & 1 == 0 { return .resetRequested }
        default:
            break
        }
        return .none
    }

    private mutating func queue(_ bytes: [UInt8]) {
        for byte in bytes where output.count < Self.outputCapacity { output.append(byte) }
    }
}
