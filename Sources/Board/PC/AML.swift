/// The few ACPI Machine Language encodings the board's DSDT needs (ACPI 6.4, chapter 20: AML
/// grammar), and the resource descriptors of a `_CRS` buffer (6.4.3), as byte builders.
enum AML {
    /// A NameSeg: four characters, padded with '_' (20.2.2).
    static func nameSegment(_ name: String) -> [UInt8] {
        let bytes = Array(name.utf8)
        precondition(bytes.count <= 4, "an AML name segment has at most four characters")
        return bytes + Array(repeating: UInt8(ascii: "_"), count: 4 - bytes.count)
    }

    /// A NameString: an optional root prefix '\' then one NameSeg.
    static func nameString(_ name: String) -> [UInt8] {
        name.hasPrefix("\\") ? [0x5C] + nameSegment(String(name.dropFirst())) : nameSegment(name)
    }

    /// PkgLength (20.2.4): the length of itself plus `count` following bytes, in one to four bytes.
    static func packageLength(_ count: Int) -> [UInt8] {
        if count + 1 < 0x40 { return [UInt8(count + 1)] }
        for extra in 1...3 {
            let total = count + 1 + extra
            guard total < 1 << (4 + 8 * extra) else { continue }
            return [UInt8(extra << 6) | UInt8(total & 0xF)] + (0..<extra).map { UInt8(truncatingIfNeeded: total >> (4 + 8 * $0)) }
        }
        preconditionFailure("an AML package is at most 2^28 bytes")
    }

    /// DefScope: Scope (name) { terms }.
    static func scope(_ name: String, _ terms: [UInt8]) -> [UInt8] {
        let body = nameString(name) + terms
        return [0x10] + packageLength(body.count) + body
    }

    /// DefDevice: Device (name) { terms } (ExtOpPrefix 0x5B, DeviceOp 0x82).
    static func device(_ name: String, _ terms: [UInt8]) -> [UInt8] {
        let body = nameString(name) + terms
        return [0x5B, 0x82] + packageLength(body.count) + body
    }

    /// DefName: Name (name, object).
    static func name(_ name: String, _ object: [UInt8]) -> [UInt8] { [0x08] + nameString(name) + object }

    /// The shortest integer encoding of `value` (20.2.3: Zero, One, Byte/Word/DWord/QWord consts).
    static func integer(_ value: UInt64) -> [UInt8] {
        switch value {
        case 0: return [0x00]
        case 1: return [0x01]
        case ...0xFF: return [0x0A] + littleEndian(value, bytes: 1)
        case ...0xFFFF: return [0x0B] + littleEndian(value, bytes: 2)
        case ...0xFFFF_FFFF: return [0x0C] + littleEndian(value, bytes: 4)
        default: return [0x0E] + littleEndian(value, bytes: 8)
        }
    }

    /// EISAID ("PNP0A08"): three letters compressed into five bits each, then four hex digits,
    /// stored big-endian as a DWordConst (19.6.35, the EISAID macro).
    static func eisaID(_ id: String) -> [UInt8] {
        let characters = Array(id.utf8)
        precondition(characters.count == 7, "an EISA ID is three letters and four hex digits")
        let vendor = characters[0..<3].reduce(UInt16(0)) { $0 << 5 | UInt16($1 - 0x40) & 0x1F }
        let product = UInt16(String(decoding: characters[3...], as: UTF8.self), radix: 16) ?? 0
        return [0x0C, UInt8(vendor >> 8), UInt8(vendor & 0xFF), UInt8(product >> 8), UInt8(product & 0xFF)]
    }

    /// DefBuffer holding a resource template: the descriptors, then the end tag (6.4.2.9) with a
    /// zero checksum, which means "treat as correct".
    static func resourceTemplate(_ descriptors: [[UInt8]]) -> [UInt8] {
        let bytes: [UInt8] = Array(descriptors.joined()) + [0x79, 0x00]
        let body = integer(UInt64(bytes.count)) + bytes
        return [0x11] + packageLength(body.count) + body
    }

    /// Address space descriptor flags (6.4.3.5.1): a window the bridge produces, fixed minimum
    /// and maximum.
    static let producedFixedWindow: UInt8 = 0x0C

    /// A Word Address Space Descriptor for bus numbers `buses` (6.4.3.5.3, resource type 2).
    static func busNumbers(_ buses: ClosedRange<UInt16>) -> [UInt8] {
        [0x88] + littleEndian(0x0D, bytes: 2) + [2, producedFixedWindow, 0]
            + [0, UInt64(buses.lowerBound), UInt64(buses.upperBound), 0, UInt64(buses.count)]
                .flatMap { littleEndian($0, bytes: 2) }
    }

    /// Memory type-specific flags (6.4.3.5.2.1): read-write, non-cacheable.
    static let readWriteMemory: UInt8 = 0x01

    /// A DWord Address Space Descriptor for the memory window `range` (6.4.3.5.2).
    static func memory32Window(_ range: Range<UInt64>) -> [UInt8] {
        [0x87] + littleEndian(0x17, bytes: 2) + [0, producedFixedWindow, readWriteMemory]
            + [0, range.lowerBound, range.upperBound - 1, 0, UInt64(range.count)].flatMap { littleEndian($0, bytes: 4) }
    }

    /// A QWord Address Space Descriptor for the memory window `range` (6.4.3.5.1).
    static func memory64Window(_ range: Range<UInt64>) -> [UInt8] {
        [0x8A] + littleEndian(0x2B, bytes: 2) + [0, producedFixedWindow, readWriteMemory]
            + [0, range.lowerBound, range.upperBound - 1, 0, range.upperBound - range.lowerBound]
                .flatMap { littleEndian($0, bytes: 8) }
    }

    /// A 32-Bit Fixed Memory Range Descriptor (6.4.3.4), read-write: memory a device consumes.
    static func fixedMemory32(_ range: Range<UInt64>) -> [UInt8] {
        [0x86] + littleEndian(0x09, bytes: 2) + [1] + littleEndian(range.lowerBound, bytes: 4)
            + littleEndian(UInt64(range.count), bytes: 4)
    }

    static func littleEndian(_ value: UInt64, bytes: Int) -> [UInt8] {
        (0..<bytes).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) }
    }
}
