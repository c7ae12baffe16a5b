/// How IRQ 8 must move after an access or a timer expiry.
enum LineAction: Equatable {
    case none, raise, lower
}

/// The MC146818's registers and clock, as plain state: every operation takes the current
/// monotonic time, so tests drive it with any clock and the device class only adds a lock, a
/// timer and the IRQ line.
///
/// Flags in register C are computed when needed rather than ticked: `catchUp` accounts for the
/// periodic ticks, updates and alarm matches since the last access. A host timer is armed only for
/// an event whose interrupt is enabled while IRQF is clear, so an idle or unresponsive guest
/// costs no host wake-ups.
struct RTCState {
    /// UIP rises this long before each update: eight cycles of the 32.768 kHz time base
    /// (MC146818A data sheet, "Update Cycle": 244 us).
    static let updateInProgressWindow: UInt64 = 244_140
    /// After the divider chain leaves reset the first update comes half a second later (data sheet, DV bits).
    static let firstUpdateAfterDividerReset: UInt64 = 500_000_000

    private(set) var cmos = CMOSRAM()
    private(set) var index: UInt8 = 0
    /// Port 0x70 bit 7: on a PC it gates NMI, which this machine does not route; kept for inspection.
    private(set) var nmiDisabled = false
    private(set) var clock: GuestClock
    /// PF, AF and UF as register C will show them.
    private var flags: UInt8 = 0
    /// IRQF, which is also the level of IRQ 8.
    private(set) var interruptRequested = false
    /// The monotonic time up to which `flags` account for events.
    private var evaluatedUntil: UInt64
    /// When the periodic rate or divider last changed: periodic ticks count from here.
    private var periodicStart: UInt64

    init(unixSeconds: Int64, nanoseconds: UInt64, now: UInt64) {
        clock = GuestClock(unixSeconds: unixSeconds, nanoseconds: nanoseconds, at: now)
        evaluatedUntil = now
        periodicStart = now
        cmos[CMOSRegister.registerA] = RegisterA.powerOn
        cmos[CMOSRegister.registerB] = RegisterB.powerOn
    }

    private var registerB: UInt8 { cmos[CMOSRegister.registerB] }
    private var format: RegisterFormat { RegisterFormat(registerB: registerB) }
    private var isSetting: Bool { registerB & RegisterB.set != 0 }
    /// DV 000, 001 and 010 run; 011-101 are test modes and 11x holds the chain in reset.
    private var dividersRunning: Bool { cmos[CMOSRegister.registerA] & RegisterA.dividerMask <= 0x20 }
    private var alarm: AlarmSchedule {
        AlarmSchedule(secondsByte: cmos[CMOSRegister.secondsAlarm], minutesByte: cmos[CMOSRegister.minutesAlarm],
                      hoursByte: cmos[CMOSRegister.hoursAlarm], format: format)
    }

    mutating func recordMemory(belowFourGiB: UInt64, aboveFourGiB: UInt64, conventionalEnd: UInt64) {
        cmos.recordMemory(belowFourGiB: belowFourGiB, aboveFourGiB: aboveFourGiB, conventionalEnd: conventionalEnd)
    }

    // MARK: Ports

    /// Port 0x70: the register index (7 bits) and the NMI-disable bit.
    mutating func selectRegister(_ value: UInt8) {
        index = value & 0x7F
        nmiDisabled = value & 0x80 != 0
    }

    /// Port 0x71 read: the selected register.
    mutating func readData(now: UInt64) -> (value: UInt8, action: LineAction) {
        switch index {
        case CMOSRegister.registerA:
            return (cmos[index] | (updateInProgress(now: now) ? RegisterA.updateInProgress : 0), .none)
        case CMOSRegister.registerC:
            return readRegisterC(now: now)
        case CMOSRegister.registerD:
            return (RegisterD.validRAMAndTime, .none)
        case let register where CMOSRegister.isTime(register) && !isSetting:
            return (shownTime(now: now)[register], .none)
        default:
            return (cmos[index], .none)
        }
    }

    /// Port 0x71 write: the selected register.
    mutating func writeData(_ value: UInt8, now: UInt64) -> LineAction {
        let now = catchUp(now: now)
        switch index {
        case CMOSRegister.registerA: writeRegisterA(value, now: now)
        case CMOSRegister.registerB: writeRegisterB(value, now: now)
        case CMOSRegister.registerC, CMOSRegister.registerD: break
        case let register where CMOSRegister.isTime(register) && !isSetting:
            var registers = shownTime(now: now)
            registers[register] = value
            clock.set(unixSeconds: registers.unixSeconds(format: format), at: now)
        default:
            cmos[index] = value
        }
        return settleInterrupt()
    }

    /// The host timer fired: account for what happened and raise IRQ 8 if an enabled flag is set.
    mutating func timerExpired(now: UInt64) -> LineAction {
        catchUp(now: now)
        return settleInterrupt()
    }

    /// The RESET pin (data sheet, "RESET"): clears PIE, AIE, UIE, SQWE and every flag; the time
    /// and RAM are battery-backed and stay.
    mutating func reset(now: UInt64) -> LineAction {
        catchUp(now: now)
        let cleared = RegisterB.periodicEnable | RegisterB.alarmEnable | RegisterB.updateEndedEnable | RegisterB.squareWaveEnable
        cmos[CMOSRegister.registerB] = registerB & ~cleared
        flags = 0
        return settleInterrupt()
    }

    /// When the host timer must next fire, or nil when no enabled interrupt can come before the
    /// guest reads register C.
    func nextDeadline(now: UInt64) -> UInt64? {
        guard !interruptRequested, dividersRunning else { return nil }
        var earliest: UInt64?
        func consider(_ time: UInt64?) {
            guard let time else { return }
            earliest = min(earliest ?? time, time)
        }
        if registerB & RegisterB.periodicEnable != 0, let rate = PeriodicRate(registerA: cmos[CMOSRegister.registerA]) {
            let elapsed = now > periodicStart ? now - periodicStart : 0
            let offset = rate.nanoseconds(toPeriod: rate.periods(in: elapsed) + 1)
            let (deadline, overflow) = periodicStart.addingReportingOverflow(offset)
            consider(overflow ? nil : deadline)
        }
        if clock.running {
            let second = clock.reading(at: now).seconds
            if registerB & RegisterB.updateEndedEnable != 0 { consider(clock.monotonicTime(ofSecond: second + 1)) }
            if registerB & RegisterB.alarmEnable != 0 {
                consider(alarm.nextMatch(after: second).flatMap { clock.monotonicTime(ofSecond: $0) })
            }
        }
        return earliest
    }

    // MARK: Registers

    /// The time registers as the running (or divider-stopped) clock shows them now.
    private func shownTime(now: UInt64) -> TimeRegisters {
        TimeRegisters(CalendarTime(unixSeconds: clock.reading(at: now).seconds), format: format)
    }

    private func updateInProgress(now: UInt64) -> Bool {
        clock.running && clock.reading(at: now).nanoseconds >= GuestClock.nanosecondsPerSecond - Self.updateInProgressWindow
    }

    /// Reading C returns IRQF and the flags, then clears them all and releases IRQ 8.
    private mutating func readRegisterC(now: UInt64) -> (value: UInt8, action: LineAction) {
        catchUp(now: now)
        let requested = interruptRequested || flags & registerB & RegisterC.flagMask != 0
        let value = flags | (requested ? RegisterC.interruptRequest : 0)
        flags = 0
        return (value, settleInterrupt())
    }

    /// UIP is read-only. A change of divider or rate restarts the periodic count.
    private mutating func writeRegisterA(_ value: UInt8, now: UInt64) {
        let old = cmos[CMOSRegister.registerA]
        let wasInReset = old & 0x60 == 0x60
        cmos[CMOSRegister.registerA] = value & ~RegisterA.updateInProgress
        if (old ^ value) & (RegisterA.dividerMask | RegisterA.rateMask) != 0 { periodicStart = now }
        applyRunState(now: now, leavingDividerReset: wasInReset && dividersRunning)
    }

    /// SET freezes the time registers where the guest can rewrite them, and clears UIE (data
    /// sheet, "SET"); clearing SET makes the written time the clock's, from the same point in the second.
    private mutating func writeRegisterB(_ value: UInt8, now: UInt64) {
        var value = value
        let newFormat = RegisterFormat(registerB: value)
        if value & RegisterB.set != 0 {
            value &= ~RegisterB.updateEndedEnable
            if !isSetting {
                TimeRegisters(CalendarTime(unixSeconds: clock.reading(at: now).seconds), format: newFormat).store(into: &cmos)
            }
        } else if isSetting {
            clock.set(unixSeconds: TimeRegisters(cmos: cmos).unixSeconds(format: newFormat), at: now)
        }
        cmos[CMOSRegister.registerB] = value
        applyRunState(now: now, leavingDividerReset: false)
    }

    private mutating func applyRunState(now: UInt64, leavingDividerReset: Bool) {
        if dividersRunning && !isSetting {
            clock.start(at: now, nanoseconds: leavingDividerReset ? Self.firstUpdateAfterDividerReset : nil)
        } else if clock.running {
            clock.stop(at: now)
        }
    }

    // MARK: Flags

    /// Sets PF, UF and AF for what happened since the last call, and returns `now`, never earlier
    /// than a time already accounted for. PF counts whenever the dividers run, even with SET (data
    /// sheet: SET stops updates, divider reset stops interrupts); UF and AF come from updates.
    @discardableResult
    private mutating func catchUp(now: UInt64) -> UInt64 {
        let now = max(now, evaluatedUntil)
        defer { evaluatedUntil = now }
        guard now > evaluatedUntil, dividersRunning else { return now }
        if let rate = PeriodicRate(registerA: cmos[CMOSRegister.registerA]),
           rate.periods(in: now - periodicStart) > rate.periods(in: evaluatedUntil - periodicStart) {
            flags |= RegisterC.periodic
        }
        if clock.running {
            let before = clock.reading(at: evaluatedUntil).seconds
            let after = clock.reading(at: now).seconds
            if after > before {
                flags |= RegisterC.updateEnded
                if let match = alarm.nextMatch(after: before), match <= after { flags |= RegisterC.alarm }
            }
        }
        return now
    }

    /// IRQF = (PF and PIE) or (AF and AIE) or (UF and UIE); IRQ 8 follows it.
    private mutating func settleInterrupt() -> LineAction {
        let pending = flags & registerB & RegisterC.flagMask != 0
        guard pending != interruptRequested else { return .none }
        interruptRequested = pending
        return pending ? .raise : .lower
    }
}
