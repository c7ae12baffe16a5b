/// Register offsets and bits of the 16550A, as the National Semiconductor PC16550D data sheet
/// (June 1995, "Register Description", tables II and III) names them.
enum UARTRegister {
    /// RBR on read, THR on write; DLL when LCR.DLAB is set.
    static let data: UInt64 = 0
    /// IER; DLM when LCR.DLAB is set.
    static let interruptEnable: UInt64 = 1
    /// IIR on read, FCR on write.
    static let interruptIdentification: UInt64 = 2
    static let lineControl: UInt64 = 3
    static let modemControl: UInt64 = 4
    static let lineStatus: UInt64 = 5
    static let modemStatus: UInt64 = 6
    static let scratch: UInt64 = 7
    /// The UART decodes eight consecutive ports.
    static let count: UInt64 = 8
}

/// IER bits (data sheet 8.4). Bits 7:4 always read 0.
enum InterruptEnable {
    static let receivedData: UInt8 = 0x01
    static let transmitterEmpty: UInt8 = 0x02
    static let lineStatus: UInt8 = 0x04
    static let modemStatus: UInt8 = 0x08
    static let writable: UInt8 = 0x0f
}

/// IIR values (data sheet table IV): bit 0 clear means an interrupt is pending, bits 3:1 say which.
enum InterruptIdentification {
    static let nonePending: UInt8 = 0x01
    static let lineStatus: UInt8 = 0x06
    static let receivedData: UInt8 = 0x04
    static let characterTimeout: UInt8 = 0x0c
    static let transmitterEmpty: UInt8 = 0x02
    static let modemStatus: UInt8 = 0x00
    /// Bits 7:6 read 11 while the FIFOs are enabled (FCR bit 0).
    static let fifosEnabled: UInt8 = 0xc0
}

/// FCR bits (data sheet 8.5).
enum FIFOControl {
    static let enable: UInt8 = 0x01
    static let clearReceiver: UInt8 = 0x02
    static let clearTransmitter: UInt8 = 0x04
    /// Bits 7:6 select the receive trigger level: 1, 4, 8 or 14 bytes.
    static let triggerShift: UInt8 = 6
}

/// LCR bits (data sheet 8.2): only DLAB changes what the other registers mean here.
enum LineControl {
    static let divisorLatchAccess: UInt8 = 0x80
}

/// MCR bits (data sheet 8.7). Bits 7:5 always read 0.
enum ModemControl {
    static let dataTerminalReady: UInt8 = 0x01
    static let requestToSend: UInt8 = 0x02
    static let out1: UInt8 = 0x04
    static let out2: UInt8 = 0x08
    static let loopback: UInt8 = 0x10
    static let writable: UInt8 = 0x1f
}

/// LSR bits (data sheet 8.6).
enum LineStatus {
    static let dataReady: UInt8 = 0x01
    static let overrunError: UInt8 = 0x02
    static let parityError: UInt8 = 0x04
    static let framingError: UInt8 = 0x08
    static let breakInterrupt: UInt8 = 0x10
    static let transmitterHoldingEmpty: UInt8 = 0x20
    static let transmitterEmpty: UInt8 = 0x40
    /// The error bits a line-status interrupt reports; reading LSR clears them.
    static let errors: UInt8 = overrunError | parityError | framingError | breakInterrupt
}

/// MSR bits (data sheet 8.8): the four inputs in bits 7:4, their change ("delta") flags in 3:0.
enum ModemStatus {
    static let deltaClearToSend: UInt8 = 0x01
    static let deltaDataSetReady: UInt8 = 0x02
    static let trailingEdgeRingIndicator: UInt8 = 0x04
    static let deltaDataCarrierDetect: UInt8 = 0x08
    static let clearToSend: UInt8 = 0x10
    static let dataSetReady: UInt8 = 0x20
    static let ringIndicator: UInt8 = 0x40
    static let dataCarrierDetect: UInt8 = 0x80
    static let deltas: UInt8 = 0x0f
}
