/// How the clock registers encode numbers, chosen by register B: BCD or binary (DM, bit 2) and
/// 24- or 12-hour hours (bit 1), where a 12-hour hour is 1-12 with PM in bit 7 (MC146818A data
/// sheet, table "Time, Calendar and Alarm Data Modes").
struct RegisterFormat: Equatable {
    var binary: Bool
    var twentyFourHour: Bool

    init(registerB: UInt8) {
        binary = registerB & RegisterB.binary != 0
        twentyFourHour = registerB & RegisterB.twentyFourHour != 0
    }

    /// `value` reduced to 0-99 and encoded; the registers are two decimal digits wide.
    func encode(_ value: Int) -> UInt8 {
        let twoDigits = UInt8(((value % 100) + 100) % 100)
        return binary ? twoDigits : (twoDigits / 10) << 4 | twoDigits % 10
    }

    /// A register byte as a number. A guest may write anything: a BCD nibble above 9 still counts
    /// by its weight, so the result is 0-165 and never traps.
    func decode(_ byte: UInt8) -> Int {
        binary ? Int(byte) : Int(byte >> 4) * 10 + Int(byte & 0x0F)
    }

    /// Hour 0-23 as the hours register shows it.
    func encodeHour(_ hour: Int) -> UInt8 {
        guard !twentyFourHour else { return encode(hour) }
        let clockHour = hour % 12 == 0 ? 12 : hour % 12
        return encode(clockHour) | (hour >= 12 ? 0x80 : 0)
    }

    /// The hours register as hour 0-23 (or more, for a hostile byte).
    func decodeHour(_ byte: UInt8) -> Int {
        guard !twentyFourHour else { return decode(byte) }
        return decode(byte & 0x7F) % 12 + (byte & 0x80 != 0 ? 12 : 0)
    }
}
