/// When the alarm next matches: the chip compares the seconds, minutes and hours alarm registers
/// with the time at every update, and a byte with its two top bits set (0xC0-0xFF) matches
/// anything (MC146818A data sheet, "Alarm"). Computing the next match lets the device sleep until
/// then instead of waking every second.
struct AlarmSchedule {
    /// Which values of one field match its alarm byte.
    enum Field {
        case any
        case value(Int)
        /// A byte no time ever shows (a BCD nibble above 9, minute 75): the alarm never fires.
        case never

        /// The matching values from `lowest` up to `limit`, as a range (empty when none).
        func candidates(from lowest: Int, below limit: Int) -> Range<Int> {
            switch self {
            case .any: return lowest < limit ? lowest..<limit : limit..<limit
            case let .value(value): return value >= lowest && value < limit ? value..<value + 1 : limit..<limit
            case .never: return limit..<limit
            }
        }
    }

    let seconds: Field
    let minutes: Field
    let hours: Field

    init(secondsByte: UInt8, minutesByte: UInt8, hoursByte: UInt8, format: RegisterFormat) {
        seconds = Self.field(secondsByte, limit: 60, decode: format.decode, encode: format.encode)
        minutes = Self.field(minutesByte, limit: 60, decode: format.decode, encode: format.encode)
        hours = Self.field(hoursByte, limit: 24, decode: format.decodeHour, encode: format.encodeHour)
    }

    /// A byte matches value v exactly when the clock would show v as that byte.
    private static func field(_ byte: UInt8, limit: Int, decode: (UInt8) -> Int, encode: (Int) -> UInt8) -> Field {
        if byte & 0xC0 == 0xC0 { return .any }
        let value = decode(byte)
        return value < limit && encode(value) == byte ? .value(value) : .never
    }

    /// The first guest second after `second` at which the alarm matches, or nil if it never does.
    func nextMatch(after second: Int64) -> Int64? {
        let day = CalendarTime.floorDivide(second, CalendarTime.secondsPerDay)
        let secondOfDay = Int(second - day * CalendarTime.secondsPerDay)
        if secondOfDay + 1 < Int(CalendarTime.secondsPerDay), let match = firstMatch(from: secondOfDay + 1) {
            return day * CalendarTime.secondsPerDay + Int64(match)
        }
        return firstMatch(from: 0).map { (day + 1) * CalendarTime.secondsPerDay + Int64($0) }
    }

    /// The first matching second of the day at or after `start`. Each loop runs at most twice
    /// before an inner one succeeds, so this is a handful of steps whatever the bytes are.
    private func firstMatch(from start: Int) -> Int? {
        let startHour = start / 3600
        let startMinute = start / 60 % 60
        for hour in hours.candidates(from: startHour, below: 24) {
            let minuteFloor = hour == startHour ? startMinute : 0
            for minute in minutes.candidates(from: minuteFloor, below: 60) {
                let secondFloor = hour == startHour && minute == startMinute ? start % 60 : 0
                if let second = seconds.candidates(from: secondFloor, below: 60).first {
                    return hour * 3600 + minute * 60 + second
                }
            }
        }
        return nil
    }
}
