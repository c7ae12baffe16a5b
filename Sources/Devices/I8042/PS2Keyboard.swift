/// The keyboard on the i8042's first port, as far as an OS's probe sees it (IBM PS/2 Hardware
/// Interface Technical Reference, "Keyboard and auxiliary device controller" and "101/102-key
/// keyboard", commands): it acknowledges what the OS sends, reports the MF2 keyboard ID, resets
/// with the BAT completion code, and has no keys (vmm's console is the serial line).
struct PS2Keyboard {
    static let acknowledge: UInt8 = 0xFA
    static let resend: UInt8 = 0xFE
    static let selfTestPassed: UInt8 = 0xAA
    /// An MF2 keyboard's ID, as it answers 0xF2.
    static let identity: [UInt8] = [0xAB, 0x83]

    /// A command (set LEDs 0xED, scan code set 0xF0, typematic rate 0xF3) waiting for its argument.
    private var awaitingArgument: UInt8?
    private(set) var scanCodeSet: UInt8 = 2
    private(set) var scanning = true

    /// The bytes the keyboard sends back for `byte` from the host, in order.
    mutating func receive(_ byte: UInt8) -> [UInt8] {
        if let command = awaitingArgument {
            awaitingArgument = nil
            guard command == 0xF0 else { return [Self.acknowledge] }
            if byte == 0 { return [Self.acknowledge, scanCodeSet] }
            guard (1...3).contains(byte) else { return [Self.resend] }
            scanCodeSet = byte
            return [Self.acknowledge]
        }
        switch byte {
        case 0xED, 0xF0, 0xF3:
            awaitingArgument = byte
            return [Self.acknowledge]
        case 0xEE:
            return [0xEE] // echo
        case 0xF2:
            return [Self.acknowledge] + Self.identity
        case 0xF4:
            scanning = true
            return [Self.acknowledge]
        case 0xF5, 0xF6:
            // Disable (0xF5) and set defaults (0xF6) both restore the defaults; only 0xF5 stops scanning.
            self = PS2Keyboard()
            scanning = byte == 0xF6
            return [Self.acknowledge]
        case 0xF7...0xFD:
            return [Self.acknowledge] // typematic/make/break modes: nothing to change without keys
        case 0xFF:
            self = PS2Keyboard()
            return [Self.acknowledge, Self.selfTestPassed]
        default:
            return [Self.resend]
        }
    }
}
