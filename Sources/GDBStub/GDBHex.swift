/// Hexadecimal as the remote protocol writes numbers, memory and registers (lower case out; either
/// case in). Registers travel in target byte order: little-endian on x86.
public enum GDBHex {
    private static let digits = Array("0123456789abcdef".utf8)

    public static func digit(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }

    public static func encode(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xf)])
        }
        return text
    }

    public static func encode(_ text: String) -> String { String(decoding: encode(Array(text.utf8)), as: UTF8.self) }

    /// Pairs of digits to bytes; nil for an odd count or a non-digit.
    public static func decode(_ text: some Collection<UInt8>) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.count / 2)
        var high: UInt8?
        for character in text {
            guard let value = digit(character) else { return nil }
            if let first = high {
                bytes.append(first << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    /// A big-endian number as in addresses and lengths ("1000", "ffffffff81000000"); nil if empty,
    /// not hexadecimal, or wider than 64 bits.
    public static func number(_ text: some Collection<UInt8>) -> UInt64? {
        guard !text.isEmpty, text.count <= 16 else { return nil }
        var value: UInt64 = 0
        for character in text {
            guard let digit = digit(character) else { return nil }
            value = value << 4 | UInt64(digit)
        }
        return value
    }

    /// `value`'s low `bytes` bytes, least significant first.
    public static func littleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * UInt64($0))) }
    }

    /// Up to 8 little-endian bytes as a number.
    public static func littleEndianValue(_ bytes: [UInt8]) -> UInt64 {
        bytes.prefix(8).enumerated().reduce(0) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
    }
}
