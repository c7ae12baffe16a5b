/// Indices and bits of the MC146818's clock registers as PCs place them in CMOS (Motorola MC146818A
/// data sheet, "Address Map" and "Register A" to "Register D"; Linux include/linux/mc146818rtc.h
/// uses the same names). The century byte at 0x32 is the IBM PC/AT convention, not the chip's.
enum CMOSRegister {
    static let seconds: UInt8 = 0x00
    static let secondsAlarm: UInt8 = 0x01
    static let minutes: UInt8 = 0x02
    static let minutesAlarm: UInt8 = 0x03
    static let hours: UInt8 = 0x04
    static let hoursAlarm: UInt8 = 0x05
    static let weekday: UInt8 = 0x06
    static let dayOfMonth: UInt8 = 0x07
    static let month: UInt8 = 0x08
    static let year: UInt8 = 0x09
    static let registerA: UInt8 = 0x0A
    static let registerB: UInt8 = 0x0B
    static let registerC: UInt8 = 0x0C
    static let registerD: UInt8 = 0x0D
    static let century: UInt8 = 0x32

    /// The registers that hold the running time and date (the alarms are plain bytes).
    static func isTime(_ index: UInt8) -> Bool {
        switch index {
        case seconds, minutes, hours, weekday, dayOfMonth, month, year, century: return true
        default: return false
        }
    }
}

/// Register A: update in progress, the divider (time base) select and the periodic rate.
enum RegisterA {
    static let updateInProgress: UInt8 = 0x80
    static let dividerMask: UInt8 = 0x70
    static let rateMask: UInt8 = 0x0F
    /// What a PC BIOS leaves: 32.768 kHz time base (DV = 010), rate 6 (1024 Hz).
    static let powerOn: UInt8 = 0x26
}

/// Register B: SET, the three interrupt enables, SQWE, data mode, 24/12 and DSE.
enum RegisterB {
    static let set: UInt8 = 0x80
    static let periodicEnable: UInt8 = 0x40
    static let alarmEnable: UInt8 = 0x20
    static let updateEndedEnable: UInt8 = 0x10
    static let squareWaveEnable: UInt8 = 0x08
    /// DM: 1 = binary, 0 = BCD.
    static let binary: UInt8 = 0x04
    static let twentyFourHour: UInt8 = 0x02
    /// What a PC BIOS leaves: 24-hour BCD, no interrupts.
    static let powerOn: UInt8 = 0x02
}

/// Register C: IRQF and the three flags. Bits PF, AF, UF line up with PIE, AIE, UIE in register B.
enum RegisterC {
    static let interruptRequest: UInt8 = 0x80
    static let periodic: UInt8 = 0x40
    static let alarm: UInt8 = 0x20
    static let updateEnded: UInt8 = 0x10
    static let flagMask: UInt8 = 0x70
}

/// Register D: VRT, "valid RAM and time": the battery is always good.
enum RegisterD {
    static let validRAMAndTime: UInt8 = 0x80
}
