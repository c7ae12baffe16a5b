/// The eight time and date registers as bytes, in one register-B format: what a running clock
/// shows, what SET freezes, and what a guest writes to set the clock.
struct TimeRegisters {
    var seconds: UInt8 = 0
    var minutes: UInt8 = 0
    var hours: UInt8 = 0
    var weekday: UInt8 = 0
    var dayOfMonth: UInt8 = 0
    var month: UInt8 = 0
    var year: UInt8 = 0
    var century: UInt8 = 0

    init(_ time: CalendarTime, format: RegisterFormat) {
        seconds = format.encode(time.second)
        minutes = format.encode(time.minute)
        hours = format.encodeHour(time.hour)
        weekday = format.encode(time.weekday)
        dayOfMonth = format.encode(time.day)
        month = format.encode(time.month)
        year = format.encode(time.year % 100)
        century = format.encode(time.year / 100)
    }

    /// Reads the registers out of CMOS RAM (where SET keeps them frozen).
    init(cmos: CMOSRAM) {
        seconds = cmos[CMOSRegister.seconds]
        minutes = cmos[CMOSRegister.minutes]
        hours = cmos[CMOSRegister.hours]
        weekday = cmos[CMOSRegister.weekday]
        dayOfMonth = cmos[CMOSRegister.dayOfMonth]
        month = cmos[CMOSRegister.month]
        year = cmos[CMOSRegister.year]
        century = cmos[CMOSRegister.century]
    }

    func store(into cmos: inout CMOSRAM) {
        cmos[CMOSRegister.seconds] = seconds
        cmos[CMOSRegister.minutes] = minutes
        cmos[CMOSRegister.hours] = hours
        cmos[CMOSRegister.weekday] = weekday
        cmos[CMOSRegister.dayOfMonth] = dayOfMonth
        cmos[CMOSRegister.month] = month
        cmos[CMOSRegister.year] = year
        cmos[CMOSRegister.century] = century
    }

    /// The register at CMOS `index` (0 for an index that is not a time register).
    subscript(index: UInt8) -> UInt8 {
        get {
            switch index {
            case CMOSRegister.seconds: return seconds
            case CMOSRegister.minutes: return minutes
            case CMOSRegister.hours: return hours
            case CMOSRegister.weekday: return weekday
            case CMOSRegister.dayOfMonth: return dayOfMonth
            case CMOSRegister.month: return month
            case CMOSRegister.year: return year
            case CMOSRegister.century: return century
            default: return 0
            }
        }
        set {
            switch index {
            case CMOSRegister.seconds: seconds = newValue
            case CMOSRegister.minutes: minutes = newValue
            case CMOSRegister.hours: hours = newValue
            case CMOSRegister.weekday: weekday = newValue
            case CMOSRegister.dayOfMonth: dayOfMonth = newValue
            case CMOSRegister.month: month = newValue
            case CMOSRegister.year: year = newValue
            case CMOSRegister.century: century = newValue
            default: break
            }
        }
    }

    /// The UTC second these registers name. The day of week is ignored: like QEMU we derive it from
    /// the date, since nothing the guest can observe depends on a weekday that disagrees with it.
    func unixSeconds(format: RegisterFormat) -> Int64 {
        let fullYear = format.decode(century) * 100 + format.decode(year)
        return CalendarTime(year: fullYear, month: format.decode(month), day: format.decode(dayOfMonth),
                            hour: format.decodeHour(hours), minute: format.decode(minutes),
                            second: format.decode(seconds)).unixSeconds
    }
}
