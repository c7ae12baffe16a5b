import I8254
import VMMKit
import XCTest

final class I8254Tests: XCTestCase {
    private var timers = DeviceTimers(clock: .manual)
    private var pit = I8254(timers: DeviceTimers(clock: .manual))
    private var lines = LineRecorder()
    private var machine: Machine?

    override func setUpWithError() throws {
        timers = DeviceTimers(clock: .manual)
        pit = I8254(timers: timers)
        lines = LineRecorder()
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        machine.interruptRouter.connect(lines)
        try machine.add(pit)
        self.machine = machine
    }

    private func out(_ port: UInt64, _ value: UInt8) {
        pit.write(BusAccess(address: port, offset: 0, size: 1, vcpu: 0), value: UInt64(value))
    }

    private func inb(_ port: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: pit.read(BusAccess(address: port, offset: 0, size: 1, vcpu: 0)))
    }

    /// Nanoseconds for `ticks` PIT clocks.
    private func nanoseconds(_ ticks: UInt64) -> UInt64 { (ticks * 1_000_000_000 + 1_193_181) / 1_193_182 }

    func testRateGeneratorInterruptsEveryPeriod() {
        out(0x43, 0x34)
        out(0x40, 0xA9); out(0x40, 0x04)
        for period in 1...5 { timers.advance(to: nanoseconds(UInt64(period) * 1193)) }
        XCTAssertEqual(lines.rises(0), 5)
        XCTAssertEqual(lines.level(0), false, "each edge is a pulse")
    }

    func testReprogrammingStopsInterrupts() {
        out(0x43, 0x34)
        out(0x40, 0xA9); out(0x40, 0x04)
        out(0x43, 0x30)
        timers.advance(to: 10_000_000)
        XCTAssertEqual(lines.rises(0), 0)
    }

    func testLatchedCountIsReadLowThenHigh() {
        out(0x43, 0x34)
        out(0x40, 0x00); out(0x40, 0x10)
        timers.advance(to: nanoseconds(0x100))
        out(0x43, 0x00)
        timers.advance(to: nanoseconds(0x200))
        XCTAssertEqual(inb(0x40), 0x00)
        XCTAssertEqual(inb(0x40), 0x0F, "0x1000 - 0x100 = 0x0F00 as latched")
        XCTAssertEqual(inb(0x40), 0x00)
        XCTAssertEqual(inb(0x40), 0x0E, "live again: 0x0E00")
    }

    func testLowAndHighByteAccessModes() {
        out(0x43, 0x50)
        out(0x41, 0x80)
        XCTAssertEqual(inb(0x41), 0x80)
        out(0x43, 0x60)
        out(0x41, 0x12)
        XCTAssertEqual(inb(0x41), 0x12)
        timers.advance(to: nanoseconds(0x100))
        XCTAssertEqual(inb(0x41), 0x11)
    }

    func testReadBackStatusAndCount() {
        out(0x43, 0xB0)
        out(0x43, 0xE8)
        XCTAssertEqual(inb(0x42), 0x70, "OUT low, null count, word access, mode 0")
        out(0x42, 0x10); out(0x42, 0x00)
        out(0x43, 0xE8)
        XCTAssertEqual(inb(0x42), 0x30, "count loaded")
        out(0x43, 0xD8)
        XCTAssertEqual(inb(0x42), 0x10)
        XCTAssertEqual(inb(0x42), 0x00)
    }

    func testInterruptOnTerminalCountHoldsIRQ0High() {
        out(0x43, 0x30)
        out(0x40, 100); out(0x40, 0)
        timers.advance(to: nanoseconds(99))
        XCTAssertEqual(lines.rises(0), 0)
        timers.advance(to: nanoseconds(100))
        XCTAssertEqual(lines.level(0), true)
        timers.advance(to: nanoseconds(1000))
        XCTAssertEqual(lines.rises(0), 1, "mode 0 fires once")
        out(0x43, 0x30)
        XCTAssertEqual(lines.level(0), false, "reprogramming lowers OUT0")
    }

    func testChannel2GateAndOutputThroughPort61() {
        out(0x61, 0x00)
        out(0x43, 0xB0)
        out(0x42, 50); out(0x42, 0)
        timers.advance(to: nanoseconds(100))
        XCTAssertEqual(inb(0x61) & 0x20, 0, "gate low: not counting")
        out(0x61, 0x01)
        XCTAssertEqual(inb(0x61) & 0x03, 0x01)
        timers.advance(to: nanoseconds(149))
        XCTAssertEqual(inb(0x61) & 0x20, 0)
        timers.advance(to: nanoseconds(151))
        XCTAssertEqual(inb(0x61) & 0x20, 0x20, "OUT2 high at terminal count")
    }

    func testHardwareRetriggerableOneShotWaitsForGate() {
        out(0x61, 0x00)
        out(0x43, 0xB2)
        out(0x42, 10); out(0x42, 0)
        XCTAssertEqual(inb(0x61) & 0x20, 0x20, "OUT high until triggered")
        out(0x61, 0x01)
        XCTAssertEqual(inb(0x61) & 0x20, 0, "triggered: OUT low while counting")
        timers.advance(to: nanoseconds(10))
        XCTAssertEqual(inb(0x61) & 0x20, 0x20)
    }

    func testSquareWaveOutput() {
        out(0x61, 0x01)
        out(0x43, 0xB6)
        out(0x42, 100); out(0x42, 0)
        XCTAssertEqual(inb(0x61) & 0x20, 0x20)
        timers.advance(to: nanoseconds(60))
        XCTAssertEqual(inb(0x61) & 0x20, 0, "second half of the period")
        timers.advance(to: nanoseconds(110))
        XCTAssertEqual(inb(0x61) & 0x20, 0x20)
    }

    func testBCDCounting() {
        out(0x43, 0x31)
        out(0x40, 0x00); out(0x40, 0x10)
        timers.advance(to: nanoseconds(1))
        XCTAssertEqual(inb(0x40), 0x99)
        XCTAssertEqual(inb(0x40), 0x09, "BCD 1000 - 1 = 0999")
    }

    func testRefreshBitToggles() {
        let first = inb(0x61) & 0x10
        timers.advance(to: 15_085)
        XCTAssertNotEqual(inb(0x61) & 0x10, first)
    }
}
