/// A UTC time broken into the fields the clock registers show, and back.
///
/// Conversions use the proleptic Gregorian calendar counted from 1970-01-01 with floor division,
/// so any Int64 second the clock can reach converts without trapping (the day-count method is the
/// well-known "days from civil" derivation: years start in March so the leap day comes last).
struct CalendarTime: Equatable {
    var year: Int
    /// 1-12.
    var month: Int
    /// 1-31.
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int
    /// 1 = Sunday ... 7 = Saturday, as the MC146818's day-of-week register counts.
    var weekday: Int

    static let secondsPerDay: Int64 = 86_400

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
        weekday = Self.weekday(ofDay: Self.days(year: year, month: month, day: day))
    }

    /// The calendar fields of `unixSeconds`.
    init(unixSeconds: Int64) {
        let days = Self.floorDivide(unixSeconds, Self.secondsPerDay)
        let secondOfDay = Int(unixSeconds - days * Self.secondsPerDay)
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
        weekday = Self.weekday(ofDay: days)
        // Shift the epoch to 0000-03-01 and split into 400-year eras of 146097 days.
        let shifted = days + 719_468
        let era = Self.floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthFromMarch = (5 * dayOfYear + 2) / 153
        day = Int(dayOfYear - (153 * monthFromMarch + 2) / 5 + 1)
        month = Int(monthFromMarch < 10 ? monthFromMarch + 3 : monthFromMarch - 9)
        year = Int(yearOfEra + era * 400) + (month <= 2 ? 1 : 0)
    }

    /// Seconds since 1970-01-01 00:00:00 UTC. Out-of-range fields carry over as timegm() does
    /// (month 13 is January of the next year, day 0 the last day of the previous month).
    var unixSeconds: Int64 {
        Self.days(year: year, month: month, day: day) * Self.secondsPerDay
            + Int64(hour) * 3600 + Int64(minute) * 60 + Int64(second)
    }

    /// Days since 1970-01-01 of `year`-`month`-`day`, normalising the month first.
    static func days(year: Int, month: Int, day: Int) -> Int64 {
        let monthIndex = Int64(month) - 1
        let fullYear = Int64(year) + floorDivide(monthIndex, 12)
        let month = monthIndex - floorDivide(monthIndex, 12) * 12 + 1
        let marchYear = month <= 2 ? fullYear - 1 : fullYear
        let era = floorDivide(marchYear, 400)
        let yearOfEra = marchYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468 + Int64(day) - 1
    }

    /// 1970-01-01 was a Thursday.
    static func weekday(ofDay days: Int64) -> Int {
        Int(days + 4 - floorDivide(days + 4, 7) * 7) + 1
    }

    static func floorDivide(_ value: Int64, _ divisor: Int64) -> Int64 {
        let quotient = value / divisor
        return (value % divisor != 0 && (value < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
