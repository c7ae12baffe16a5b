/// What arrives on a gdb connection, one event at a time (gdb manual, "Overview" of the Remote
/// Protocol): `$payload#cs` packets, `+`/`-` acknowledgements, and the interrupt byte 0x03.
public enum GDBInput: Equatable, Sendable {
    /// A packet whose checksum matched, with `}` escapes undone.
    case packet([UInt8])
    /// 0x03 outside a packet: gdb's Ctrl-C.
    case interrupt
    /// `+`: the last packet sent arrived.
    case acknowledged
    /// `-`: send the last packet again.
    case retransmitRequested
    /// A packet that cannot be taken: a wrong checksum, bad checksum digits, or too long. It is
    /// answered with `-` (in acknowledged mode) and otherwise ignored.
    case rejected(String)
}

/// Turns the byte stream from gdb into `GDBInput`s. Bytes outside packets that mean nothing are
/// dropped, as gdb's own stubs do. Run-length encoding is only ever sent by a stub, never to one
/// (gdb manual, "Binary Data" and "Overview"), so `*` in a packet is an ordinary byte here.
public struct GDBPacketReader: Sendable {
    /// The largest payload accepted, and the PacketSize advertised in qSupported.
    public static let maximumPayload = 0x4000

    private enum Phase: Sendable { case idle, payload, escaped, checksumHigh, checksumLow(UInt8) }
    private var phase = Phase.idle
    private var payload: [UInt8] = []
    private var sum: UInt8 = 0
    private var overflowed = false

    public init() {}

    public mutating func feed(_ byte: UInt8) -> GDBInput? {
        switch phase {
        case .idle:
            switch byte {
            case UInt8(ascii: "$"): start()
            case UInt8(ascii: "+"): return .acknowledged
            case UInt8(ascii: "-"): return .retransmitRequested
            case 0x03: return .interrupt
            default: break
            }
        case .payload:
            switch byte {
            case UInt8(ascii: "#"): phase = .checksumHigh
            case UInt8(ascii: "$"): start() // gdb gave up on a packet half sent: begin afresh
            case UInt8(ascii: "}"):
                sum &+= byte
                phase = .escaped
            default:
                sum &+= byte
                append(byte)
            }
        case .escaped:
            sum &+= byte
            append(byte ^ 0x20)
            phase = .payload
        case .checksumHigh:
            guard let high = GDBHex.digit(byte) else { return reject("checksum digit 0x\(String(byte, radix: 16))") }
            phase = .checksumLow(high)
        case let .checksumLow(high):
            guard let low = GDBHex.digit(byte) else { return reject("checksum digit 0x\(String(byte, radix: 16))") }
            phase = .idle
            if overflowed { return .rejected("packet longer than \(Self.maximumPayload) bytes") }
            let expected = high << 4 | low
            guard expected == sum else {
                return .rejected("checksum 0x\(String(expected, radix: 16)) for payload summing to 0x\(String(sum, radix: 16))")
            }
            return .packet(payload)
        }
        return nil
    }

    private mutating func start() {
        phase = .payload
        payload.removeAll(keepingCapacity: true)
        sum = 0
        overflowed = false
    }

    private mutating func append(_ byte: UInt8) {
        if payload.count < Self.maximumPayload { payload.append(byte) } else { overflowed = true }
    }

    private mutating func reject(_ why: String) -> GDBInput {
        phase = .idle
        return .rejected(why)
    }
}

/// Frames a reply: `$`, the payload with `$`, `#`, `}` and `*` escaped (so that nothing in it reads
/// as framing or run-length encoding), `#` and the checksum of what was sent.
public enum GDBPacketWriter {
    public static func frame(_ payload: [UInt8]) -> [UInt8] {
        var framed: [UInt8] = [UInt8(ascii: "$")]
        framed.reserveCapacity(payload.count + 4)
        var sum: UInt8 = 0
        for byte in payload {
            switch byte {
            case UInt8(ascii: "$"), UInt8(ascii: "#"), UInt8(ascii: "}"), UInt8(ascii: "*"):
                framed.append(UInt8(ascii: "}"))
                framed.append(byte ^ 0x20)
                sum &+= UInt8(ascii: "}") &+ (byte ^ 0x20)
            default:
                framed.append(byte)
                sum &+= byte
            }
        }
        framed.append(UInt8(ascii: "#"))
        framed += GDBHex.encode([sum])
        return framed
    }
}
