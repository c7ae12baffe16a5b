/// The 16550A's registers and the rules that connect them, with no host I/O and no locking: the
/// device class wraps one of these in a lock and does the I/O its results call for.
///
/// Behaviour follows the PC16550D data sheet; QEMU's hw/char/serial.c was read as a cross-check.
/// Transmission is instantaneous: a byte written to THR leaves at once, so THR and the transmitter
/// are always empty again by the time the guest can look (LSR.THRE and LSR.TEMT stay set).
struct UARTState {
    private(set) var interruptEnable: UInt8 = 0
    private(set) var lineControl: UInt8 = 0
    private(set) var modemControl: UInt8 = 0
    private(set) var lineErrors: UInt8 = 0
    /// MSR bits 7:4 as last sampled, and the delta bits 3:0 accumulated since MSR was last read.
    private(set) var modemStatus: UInt8
    private(set) var fifoControl: UInt8 = 0
    private(set) var divisor: UInt16 = 0
    private var scratch: UInt8 = 0
    private var receiver = ReceiveFIFO()
    /// What RBR reads when the receiver is empty: a holding register keeps its last byte.
    private var lastReceived: UInt8 = 0
    /// The THR-empty interrupt is an event, not a level: it is armed when THR empties (or when
    /// ETBEI is turned on with THR empty) and disarmed by reading IIR while it is the reported source
    /// or by writing THR (data sheet table IV, "Reset Control").
    private var transmitterEmptyPending = false
    /// Whether the guest has looked at the receiver (read RBR, LSR or IIR) since it was last
    /// reset (power-on, FIFO clear or enable). Host input waits until then: a driver's set-up
    /// clears the FIFOs, and bytes piped in before it would be thrown away.
    private var receiverWatched = false

    /// The modem inputs when not in loopback: a terminal that is present and ready (CTS, DSR and DCD
    /// asserted, no ring), which is how QEMU presents a host stdio backend too.
    static let connectedModemInputs = ModemStatus.clearToSend | ModemStatus.dataSetReady | ModemStatus.dataCarrierDetect

    init() {
        modemStatus = Self.connectedModemInputs
    }

    var isLoopback: Bool { modemControl & ModemControl.loopback != 0 }
    var fifosEnabled: Bool { fifoControl & FIFOControl.enable != 0 }
    var divisorLatchAccess: Bool { lineControl & LineControl.divisorLatchAccess != 0 }
    /// Bytes the receiver can take before it would overrun.
    var receiveSpace: Int { receiver.freeSpace }

    /// Bytes of host input the UART takes now: none in loopback (the serial input is disconnected,
    /// data sheet 8.7) or before the guest has looked at the receiver.
    var hostInputSpace: Int { receiverWatched && !isLoopback ? receiver.freeSpace : 0 }

    /// The receive FIFO trigger level chosen by FCR bits 7:6 (data sheet table III).
    var receiveTriggerLevel: Int {
        switch fifoControl >> FIFOControl.triggerShift {
        case 0: return 1
        case 1: return 4
        case 2: return 8
        default: return 14
        }
    }

    var lineStatus: UInt8 {
        var status = lineErrors | LineStatus.transmitterHoldingEmpty | LineStatus.transmitterEmpty
        if !receiver.isEmpty { status |= LineStatus.dataReady }
        return status
    }

    /// IIR as the guest would read it now, by the data sheet's priority order: receiver line status,
    /// then received data (trigger level reached, or a character timeout), then THR empty, then
    /// modem status.
    var interruptIdentification: UInt8 {
        let fifoBits = fifosEnabled ? InterruptIdentification.fifosEnabled : 0
        return fifoBits | highestPendingInterrupt
    }

    /// True while any enabled interrupt condition holds: the level of the UART's INTR output.
    var interruptPending: Bool { highestPendingInterrupt != InterruptIdentification.nonePending }

    private var highestPendingInterrupt: UInt8 {
        if interruptEnable & InterruptEnable.lineStatus != 0, lineErrors != 0 {
            return InterruptIdentification.lineStatus
        }
        if interruptEnable & InterruptEnable.receivedData != 0, !receiver.isEmpty {
            // Host input arrives in bursts and each burst is delivered at once, so whenever fewer
            // bytes than the trigger level wait, the line has been idle: the data sheet's character
            // timeout (four character times without input or reads) is then what the UART reports.
            if fifosEnabled, receiver.count < receiveTriggerLevel { return InterruptIdentification.characterTimeout }
            return InterruptIdentification.receivedData
        }
        if interruptEnable & InterruptEnable.transmitterEmpty != 0, transmitterEmptyPending {
            return InterruptIdentification.transmitterEmpty
        }
        if interruptEnable & InterruptEnable.modemStatus != 0, modemStatus & ModemStatus.deltas != 0 {
            return InterruptIdentification.modemStatus
        }
        return InterruptIdentification.nonePending
    }

    // MARK: Guest accesses

    mutating func read(_ register: UInt64) -> UInt8 {
        switch register {
        case UARTRegister.data:
            if divisorLatchAccess { return UInt8(truncatingIfNeeded: divisor) }
            receiverWatched = true
            if let byte = receiver.pop() { lastReceived = byte }
            return lastReceived
        case UARTRegister.interruptEnable:
            return divisorLatchAccess ? UInt8(truncatingIfNeeded: divisor >> 8) : interruptEnable
        case UARTRegister.interruptIdentification:
            receiverWatched = true
            let identification = interruptIdentification
            if identification & 0x0f == InterruptIdentification.transmitterEmpty { transmitterEmptyPending = false }
            return identification
        case UARTRegister.lineControl:
            return lineControl
        case UARTRegister.modemControl:
            return modemControl
        case UARTRegister.lineStatus:
            receiverWatched = true
            let status = lineStatus
            lineErrors = 0
            return status
        case UARTRegister.modemStatus:
            let status = modemStatus
            modemStatus &= ~ModemStatus.deltas
            return status
        case UARTRegister.scratch:
            return scratch
        default:
            return 0xff
        }
    }

    /// Applies a guest write; returns the byte to send to the host when THR was written outside
    /// loopback.
    mutating func write(_ register: UInt64, _ value: UInt8) -> UInt8? {
        switch register {
        case UARTRegister.data:
            if divisorLatchAccess {
                divisor = (divisor & 0xff00) | UInt16(value)
                return nil
            }
            return transmit(value)
        case UARTRegister.interruptEnable:
            if divisorLatchAccess {
                divisor = (divisor & 0x00ff) | UInt16(value) << 8
                return nil
            }
            let enablesTransmitterEmpty = value & ~interruptEnable & InterruptEnable.transmitterEmpty != 0
            interruptEnable = value & InterruptEnable.writable
            // Enabling ETBEI while THR is empty raises the interrupt at once (data sheet 8.4).
            if enablesTransmitterEmpty { transmitterEmptyPending = true }
        case UARTRegister.interruptIdentification:
            writeFIFOControl(value)
        case UARTRegister.lineControl:
            lineControl = value
        case UARTRegister.modemControl:
            setModemControl(value & ModemControl.writable)
        case UARTRegister.scratch:
            scratch = value
        default:
            // LSR and MSR are read-only; the data sheet reserves writes to them for factory test.
            break
        }
        return nil
    }

    // MARK: The line side

    /// A byte arriving on the serial input: queued, or lost with LSR.OE set when the receiver is full
    /// (data sheet 8.6: the overrun character is not transferred).
    mutating func receive(_ byte: UInt8) {
        if !receiver.push(byte) { lineErrors |= LineStatus.overrunError }
    }

    /// A break on the serial input (the line held at space for longer than a character): LSR.BI
    /// with one zero character in the receiver (data sheet 8.6, "BI"), as QEMU delivers its
    /// character backends' break events. Linux's 8250 driver takes it as the start of a magic SysRq.
    mutating func receiveBreak() {
        lineErrors |= LineStatus.breakInterrupt
        receive(0)
    }

    private mutating func transmit(_ byte: UInt8) -> UInt8? {
        // The byte leaves at once, so THR is empty again: the write disarmed the THRE interrupt and
        // the emptied THR arms it again.
        transmitterEmptyPending = true
        guard isLoopback else { return byte }
        receive(byte)
        return nil
    }

    private mutating func writeFIFOControl(_ value: UInt8) {
        let enable = value & FIFOControl.enable != 0
        if enable != fifosEnabled {
            // Changing FCR bit 0 clears both FIFOs (data sheet 8.5).
            clearReceiver()
            receiver.capacity = enable ? ReceiveFIFO.depth : 1
        }
        guard enable else {
            // With bit 0 clear the other FCR bits are not programmed (data sheet 8.5).
            fifoControl = 0
            return
        }
        fifoControl = value & ~(FIFOControl.clearReceiver | FIFOControl.clearTransmitter)
        if value & FIFOControl.clearReceiver != 0 { clearReceiver() }
        // The transmit FIFO is always empty (transmission is instantaneous): clearing it changes nothing.
    }

    private mutating func clearReceiver() {
        receiver.clear()
        receiverWatched = false
    }

    private mutating func setModemControl(_ value: UInt8) {
        modemControl = value
        // In loopback the four modem outputs drive the four modem inputs internally
        // (data sheet 8.7, MCR bit 4): RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD.
        var inputs = Self.connectedModemInputs
        if isLoopback {
            inputs = 0
            if value & ModemControl.requestToSend != 0 { inputs |= ModemStatus.clearToSend }
            if value & ModemControl.dataTerminalReady != 0 { inputs |= ModemStatus.dataSetReady }
            if value & ModemControl.out1 != 0 { inputs |= ModemStatus.ringIndicator }
            if value & ModemControl.out2 != 0 { inputs |= ModemStatus.dataCarrierDetect }
        }
        sampleModemInputs(inputs)
    }

    /// Latches new modem inputs and sets the delta bits for the ones that changed; RI sets TERI only
    /// on its trailing (falling) edge (data sheet 8.8).
    private mutating func sampleModemInputs(_ inputs: UInt8) {
        let previous = modemStatus & ~ModemStatus.deltas
        let changed = (previous ^ inputs) >> 4
        var deltas = modemStatus & ModemStatus.deltas
        deltas |= changed & (ModemStatus.deltaClearToSend | ModemStatus.deltaDataSetReady | ModemStatus.deltaDataCarrierDetect)
        let ringFell = previous & ModemStatus.ringIndicator != 0 && inputs & ModemStatus.ringIndicator == 0
        if ringFell { deltas |= ModemStatus.trailingEdgeRingIndicator }
        modemStatus = inputs | deltas
    }
}
