import Foundation
import PCBoard
import RTC
import Serial16550
import TestSupport
import VMMKit
import XCTest

final class RTCTests: XCTestCase {
    /// 2024-02-29 13:45:30 UTC, a Thursday on a leap day.
    static let leapDayAfternoon: Int64 = 1_709_214_330
    static let second: UInt64 = 1_000_000_000

    private var timers = DeviceTimers(clock: .manual)
    private var rtc = MC146818(timers: DeviceTimers(clock: .manual), start: UTCTime(seconds: 0))
    private var lines = LineRecorder()
    private var machine: Machine?

    override func setUpWithError() throws {
        try makeRTC(start: UTCTime(seconds: Self.leapDayAfternoon))
    }

    override func tearDown() {
        rtc.stop()
        machine = nil
    }

    private func makeRTC(start: UTCTime, memorySize: UInt64 = 1 << 20) throws {
        timers = DeviceTimers(clock: .manual)
        rtc = MC146818(timers: timers, start: start)
        lines = LineRecorder()
        let machine = try Machine(memorySize: memorySize, vcpuCount: 1)
        machine.interruptRouter.connect(lines)
        try machine.add(rtc)
        self.machine = machine
    }

    private func write(_ index: UInt8, _ value: UInt8) {
        rtc.write(BusAccess(address: 0x70, offset: 0, size: 1, vcpu: 0), value: UInt64(index))
        rtc.write(BusAccess(address: 0x71, offset: 1, size: 1, vcpu: 0), value: UInt64(value))
    }

    private func read(_ index: UInt8) -> UInt8 {
        rtc.write(BusAccess(address: 0x70, offset: 0, size: 1, vcpu: 0), value: UInt64(index))
        return UInt8(truncatingIfNeeded: rtc.read(BusAccess(address: 0x71, offset: 1, size: 1, vcpu: 0)))
    }

    /// Seconds, minutes, hours, weekday, day, month, year, century.
    private func clock() -> [UInt8] { [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32].map(read) }

    private func advance(seconds: Double) {
        timers.advance(to: timers.now + UInt64(seconds * 1e9))
    }

    // MARK: Time registers

    func testPowerOnIs24HourBCD() {
        XCTAssertEqual(read(0x0A), 0x26, "32.768 kHz divider, 1024 Hz rate, as a PC BIOS leaves it")
        XCTAssertEqual(read(0x0B), 0x02)
        XCTAssertEqual(read(0x0D), 0x80, "VRT: valid RAM and time")
        XCTAssertEqual(clock(), [0x30, 0x45, 0x13, 0x05, 0x29, 0x02, 0x24, 0x20])
    }

    func testBinaryTwelveHourFormat() {
        write(0x0B, 0x04)
        XCTAssertEqual(clock(), [30, 45, 0x81, 5, 29, 2, 24, 20], "1 PM: hour 1 with bit 7")
    }

    func testTwelveHourMidnightAndNoon() throws {
        try makeRTC(start: UTCTime(seconds: Self.leapDayAfternoon - 13 * 3600 - 45 * 60 - 30))
        write(0x0B, 0x00)
        XCTAssertEqual(read(0x04), 0x12, "midnight is 12 AM")
        advance(seconds: 12 * 3600)
        XCTAssertEqual(read(0x04), 0x92, "noon is 12 PM")
    }

    func testTimeAdvancesAcrossMonthYearAndCentury() throws {
        // 2099-12-31 23:59:59 UTC.
        try makeRTC(start: UTCTime(seconds: 4_102_444_799))
        XCTAssertEqual(clock(), [0x59, 0x59, 0x23, 0x05, 0x31, 0x12, 0x99, 0x20])
        advance(seconds: 1)
        XCTAssertEqual(clock(), [0x00, 0x00, 0x00, 0x06, 0x01, 0x01, 0x00, 0x21])
    }

    func testUpdateInProgressOnlyInTheLast244Microseconds() throws {
        XCTAssertEqual(read(0x0A) & 0x80, 0)
        timers.advance(to: Self.second - 250_000)
        XCTAssertEqual(read(0x0A) & 0x80, 0)
        timers.advance(to: Self.second - 240_000)
        XCTAssertEqual(read(0x0A), 0xA6, "UIP set, the rest of register A unchanged")
        XCTAssertEqual(read(0x00), 0x30, "the registers have not changed yet")
        timers.advance(to: Self.second)
        XCTAssertEqual(read(0x0A) & 0x80, 0)
        XCTAssertEqual(read(0x00), 0x31)
        write(0x0A, 0xA6)
        XCTAssertEqual(read(0x0A), 0x26, "UIP is read-only")
    }

    func testSetFreezesTheClockAndTheWrittenTimeRunsOn() {
        write(0x0B, 0x82)
        XCTAssertEqual(read(0x0B), 0x82)
        advance(seconds: 5)
        XCTAssertEqual(read(0x00), 0x30, "SET stops updates")
        XCTAssertEqual(read(0x0A) & 0x80, 0)
        timers.advance(to: 6 * Self.second - 100_000)
        XCTAssertEqual(read(0x0A) & 0x80, 0, "no UIP while SET")
        // 2030-06-15 08:09:10.
        for (index, value) in [(0x00, 0x10), (0x02, 0x09), (0x04, 0x08), (0x07, 0x15), (0x08, 0x06),
                               (0x09, 0x30), (0x32, 0x20)] as [(UInt8, UInt8)] {
            write(index, value)
        }
        XCTAssertEqual(read(0x02), 0x09, "written registers read back while SET")
        write(0x0B, 0x02)
        advance(seconds: 10)
        XCTAssertEqual(clock(), [0x20, 0x09, 0x08, 0x07, 0x15, 0x06, 0x30, 0x20], "Saturday 2030-06-15 08:09:20")
        advance(seconds: 3600)
        XCTAssertEqual(read(0x04), 0x09, "the guest's time keeps going")
    }

    func testWritingATimeRegisterWhileRunningMovesTheClock() {
        write(0x09, 0x25)
        XCTAssertEqual(read(0x09), 0x25)
        XCTAssertEqual(read(0x08), 0x03, "2025 has no 29 February: the date carries into March")
        XCTAssertEqual(read(0x07), 0x01)
        advance(seconds: 60)
        XCTAssertEqual(read(0x02), 0x46)
        XCTAssertEqual(read(0x09), 0x25)
    }

    func testDividerResetStopsTheClockAndRestartsHalfASecondBeforeAnUpdate() {
        write(0x0A, 0x76)
        advance(seconds: 3)
        XCTAssertEqual(read(0x00), 0x30, "divider held in reset")
        write(0x0A, 0x26)
        advance(seconds: 0.49)
        XCTAssertEqual(read(0x00), 0x30)
        advance(seconds: 0.02)
        XCTAssertEqual(read(0x00), 0x31, "first update half a second after leaving reset")
    }

    func testHostileTimeBytesNeverTrap() {
        write(0x0B, 0x82)
        for index in [0x00, 0x02, 0x04, 0x06, 0x07, 0x08, 0x09, 0x32] as [UInt8] { write(index, 0xFF) }
        write(0x0B, 0x86)
        write(0x0B, 0x06)
        write(0x01, 0x7F)
        write(0x0B, 0x26)
        advance(seconds: 2)
        XCTAssertEqual(read(0x0C) & 0x20, 0, "an alarm byte no time shows never matches")
        XCTAssertEqual(clock().count, 8)
    }

    // MARK: Flags and interrupts

    func testRegisterCFlagsAreSetWithoutEnablesAndClearedByReading() {
        advance(seconds: 1.5)
        XCTAssertEqual(read(0x0C), 0x50, "PF and UF, but no IRQF with the interrupts disabled")
        XCTAssertEqual(read(0x0C), 0x00)
        XCTAssertEqual(lines.rises(8), 0)
        write(0x0C, 0xFF)
        XCTAssertEqual(read(0x0C), 0x00, "register C is read-only")
    }

    func testPeriodicInterruptsRaiseIRQ8UntilRegisterCIsRead() {
        write(0x0A, 0x2F)
        write(0x0B, 0x42)
        _ = read(0x0C)
        timers.advance(to: Self.second / 2 - 1)
        XCTAssertEqual(lines.rises(8), 0)
        timers.advance(to: Self.second / 2)
        XCTAssertEqual(lines.rises(8), 1, "rate 15: 2 Hz")
        XCTAssertEqual(lines.level(8), true)
        advance(seconds: 2)
        XCTAssertEqual(lines.rises(8), 1, "no new edge while IRQF is set")
        XCTAssertEqual(read(0x0C) & 0xC0, 0xC0)
        XCTAssertEqual(lines.level(8), false, "reading C lowers the line")
        timers.advance(to: 3 * Self.second)
        XCTAssertEqual(lines.rises(8), 2)
    }

    func testEnablingAnInterruptWithItsFlagSetRaisesAtOnce() {
        advance(seconds: 1)
        write(0x0B, 0x12)
        XCTAssertEqual(lines.level(8), true)
        write(0x0B, 0x02)
        XCTAssertEqual(lines.level(8), false, "disabling it again drops IRQF and the line")
    }

    func testPeriodicRateIsCappedAt8192Hertz() {
        write(0x0A, 0x21)
        write(0x0B, 0x42)
        _ = read(0x0C)
        acknowledgeInterrupts(for: Self.second / 16, step: 50_000)
        XCTAssertEqual(lines.rises(8), 16, "rate 1 on the 32.768 kHz time base is 256 Hz")

        write(0x0A, 0x23)
        let before = lines.rises(8)
        acknowledgeInterrupts(for: Self.second / 100, step: 20_000)
        XCTAssertEqual(lines.rises(8) - before, 81, "rate 3 is the fastest: 8192 Hz, 81.92 periods in 10 ms")
    }

    /// Moves time in `step`s, reading register C whenever IRQ 8 is high, as an interrupt handler would.
    private func acknowledgeInterrupts(for span: UInt64, step: UInt64) {
        let end = timers.now + span
        while timers.now < end {
            timers.advance(to: min(timers.now + step, end))
            if lines.level(8) == true { _ = read(0x0C) }
        }
    }

    func testUpdateEndedInterruptEverySecond() {
        write(0x0B, 0x12)
        _ = read(0x0C)
        timers.advance(to: Self.second)
        XCTAssertEqual(lines.rises(8), 1)
        XCTAssertEqual(read(0x0C), 0x90 | 0x40, "IRQF, UF, and PF from the 1024 Hz rate")
        timers.advance(to: 2 * Self.second)
        XCTAssertEqual(lines.rises(8), 2)
    }

    func testSetClearsUpdateEndedEnable() {
        write(0x0B, 0x92)
        XCTAssertEqual(read(0x0B), 0x82)
    }

    func testAlarmFiresAtTheMatchingSecond() {
        write(0x01, 0x35)
        write(0x03, 0x45)
        write(0x05, 0x13)
        write(0x0B, 0x22)
        _ = read(0x0C)
        timers.advance(to: 5 * Self.second - 1)
        XCTAssertEqual(lines.rises(8), 0)
        timers.advance(to: 5 * Self.second)
        XCTAssertEqual(lines.rises(8), 1)
        XCTAssertEqual(read(0x0C) & 0xA0, 0xA0, "IRQF and AF")
        advance(seconds: 3600)
        XCTAssertEqual(read(0x0C) & 0x20, 0, "the next match is a day later")
    }

    func testDontCareAlarmBytesMatchEverySecond() {
        write(0x01, 0xC0)
        write(0x03, 0xFF)
        write(0x05, 0xC3)
        write(0x0B, 0x22)
        _ = read(0x0C)
        for second in 1...3 {
            timers.advance(to: UInt64(second) * Self.second)
            XCTAssertEqual(read(0x0C) & 0xA0, 0xA0)
        }
        XCTAssertEqual(lines.rises(8), 3)
    }

    func testResetClearsEnablesAndFlags() {
        write(0x0B, 0x72)
        advance(seconds: 1)
        XCTAssertEqual(lines.level(8), true)
        rtc.reset()
        XCTAssertEqual(read(0x0B), 0x02)
        XCTAssertEqual(lines.level(8), false)
        XCTAssertEqual(read(0x0C), 0x00)
    }

    // MARK: Index port and RAM

    func testNMIDisableBitIsMaskedOffTheIndex() {
        write(0x8D, 0x00)
        XCTAssertTrue(rtc.nmiDisabled)
        XCTAssertEqual(read(0x8D), 0x80, "0x8D selects register D")
        write(0xF0, 0xA5)
        XCTAssertEqual(read(0x70), 0xA5, "0xF0 selects RAM byte 0x70")
        XCTAssertFalse(rtc.nmiDisabled)
        XCTAssertEqual(rtc.read(BusAccess(address: 0x70, offset: 0, size: 1, vcpu: 0)), 0xFF, "the index port is write-only")
    }

    func testRAMBytesKeepWhatWasWritten() {
        let ram = (0x0E..<0x80).map { UInt8($0) }.filter { $0 != 0x32 }
        for index in ram { write(index, index ^ 0x5A) }
        for index in ram { XCTAssertEqual(read(index), index ^ 0x5A, "CMOS byte 0x\(String(index, radix: 16))") }
        write(0x01, 0x12)
        XCTAssertEqual(read(0x01), 0x12, "alarm registers are plain bytes")
    }

    func testMemorySizeBytesOfASmallMachine() throws {
        try makeRTC(start: UTCTime(seconds: 0), memorySize: 32 << 20)
        XCTAssertEqual(word(0x15), 639, "conventional memory up to the EBDA")
        XCTAssertEqual(word(0x17), 31 * 1024, "KiB above 1 MiB")
        XCTAssertEqual(word(0x30), 31 * 1024)
        XCTAssertEqual(word(0x34), 256, "64 KiB blocks above 16 MiB")
        XCTAssertEqual(word(0x5B), 0)
        XCTAssertEqual(read(0x14), 0x02, "maths coprocessor, no diskette")
    }

    func testMemorySizeBytesAboveFourGiB() throws {
        try makeRTC(start: UTCTime(seconds: 0), memorySize: 5 << 30)
        XCTAssertEqual(word(0x17), 0xFFFF, "saturated: 64 MiB or more")
        XCTAssertEqual(word(0x34), (3 << 14) - 256, "3 GiB below the hole, less the first 16 MiB")
        XCTAssertEqual(word(0x5B), 0x8000, "2 GiB above 4 GiB in 64 KiB blocks")
        XCTAssertEqual(read(0x5D), 0)
    }

    private func word(_ index: UInt8) -> Int { Int(read(index)) | Int(read(index + 1)) << 8 }

    func testWordAccessWritesIndexThenData() {
        rtc.write(BusAccess(address: 0x70, offset: 0, size: 2, vcpu: 0), value: 0x6640)
        XCTAssertEqual(read(0x40), 0x66)
        rtc.write(BusAccess(address: 0x70, offset: 0, size: 1, vcpu: 0), value: 0x40)
        XCTAssertEqual(rtc.read(BusAccess(address: 0x70, offset: 0, size: 2, vcpu: 0)), 0x66FF)
    }

    // MARK: Registration and the PC board

    private func assemblePC(devices: [String] = []) throws -> Machine {
        // Built on first use, so a fresh clone runs these instead of skipping them.
        let kernel = try GuestKernels.path("hello")
        let description = MachineDescription(kernelPath: kernel, memorySize: 64 << 20, serial: .none, devices: devices)
        return try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
    }

    private func portRead(_ machine: Machine, _ index: UInt8) -> UInt8 {
        machine.ports.write(0x70, size: 1, value: UInt64(index), vcpu: 0)
        return UInt8(truncatingIfNeeded: machine.ports.read(0x71, size: 1, vcpu: 0))
    }

    func testEveryPCHasAnRTCOnItsPortBus() throws {
        let machine = try assemblePC()
        defer { machine.devices.forEach { $0.stop() } }
        XCTAssertTrue(machine.device(named: "rtc") is MC146818)
        XCTAssertEqual(portRead(machine, 0x0D), 0x80)
        XCTAssertEqual(portRead(machine, 0x32), 0x20, "the host's century")
        XCTAssertEqual(portRead(machine, 0x15), 0x7F, "639 KiB, low byte")
        machine.ports.write(0x70, size: 1, value: 0x50, vcpu: 0)
        machine.ports.write(0x71, size: 1, value: 0xC3, vcpu: 0)
        XCTAssertEqual(portRead(machine, 0x50), 0xC3)
    }

    func testADeviceOptionReplacesTheDefaultRTC() throws {
        let machine = try assemblePC(devices: ["rtc,start=86400"])
        defer { machine.devices.forEach { $0.stop() } }
        XCTAssertEqual(machine.devices.filter { $0 is MC146818 }.count, 1)
        XCTAssertEqual(portRead(machine, 0x09), 0x70)
        XCTAssertEqual(portRead(machine, 0x32), 0x19)
        XCTAssertEqual(portRead(machine, 0x07), 0x02, "1970-01-02")
    }

    func testDeviceTypeRejectsAStartBeyondYear9999() throws {
        let registry = try PCBoard.deviceRegistry()
        XCTAssertThrowsError(try registry.makeDevice("rtc,start=999999999999")) {
            XCTAssertEqual(($0 as? DeviceSpecificationError),
                           .badValue("rtc", "start", "999999999999"))
        }
        XCTAssertThrowsError(try registry.makeDevice("rtc,bogus=1"))
        XCTAssertTrue(PCBoard.builtInDeviceTypes.contains { $0.name == "rtc" })
    }
}
