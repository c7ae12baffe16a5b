import VMMKit

/// An Ethernet address as `mac=` gives it: six hexadecimal bytes separated by colons.
public struct MACAddress: Equatable, Sendable, CustomStringConvertible {
    /// QEMU's default for its first NIC: the 52:54:00 prefix is locally administered (bit 1 of the
    /// first byte) and unicast (bit 0 clear), so it can clash with no vendor's address.
    public static let standard = MACAddress(bytes: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56])

    public let bytes: [UInt8]

    init(bytes: [UInt8]) { self.bytes = bytes }

    /// Parses `XX:XX:XX:XX:XX:XX`; a multicast address (bit 0 of the first byte) is no NIC's own.
    public init(parsing text: String) throws(MACAddressError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let bytes = parts.compactMap { $0.count == 2 ? UInt8($0, radix: 16) : nil }
        guard parts.count == 6, bytes.count == 6 else { throw .malformed(text) }
        guard bytes[0] & 1 == 0 else { throw .multicast(text) }
        self.bytes = bytes
    }

    public var description: String {
        bytes.map { byte in
            let hex = String(byte, radix: 16)
            return hex.count == 1 ? "0" + hex : hex
        }.joined(separator: ":")
    }
}

public enum MACAddressError: VMMError, Equatable {
    case malformed(String)
    case multicast(String)

    public var description: String {
        switch self {
        case let .malformed(text): return "virtio-net: '\(text)' is not a MAC address (six bytes as XX:XX:XX:XX:XX:XX)"
        case let .multicast(text): return "virtio-net: '\(text)' is a multicast address, not a NIC's own (clear bit 0 of the first byte)"
        }
    }
}
