import LocalAPIC
import VMMKit
import XCTest

/// The periodic local APIC timer when the host timer thread wakes late (the manual clock jumping
/// several periods at once) versus when the guest is slow to take its interrupt.
final class LocalAPICTimerCatchUpTests: XCTestCase {
    private let page: UInt64 = 0xFEE0_0000
    private let vector: UInt8 = 0x32
    private var timers = DeviceTimers(clock: .manual)
    private var apics = LocalAPICs(vcpuCount: 1, timers: DeviceTimers(clock: .manual))

    override func setUp() {
        timers = DeviceTimers(clock: .manual)
        apics = LocalAPICs(vcpuCount: 1, timers: timers)
        apics.kick = { _ in }
        write(0xF0, 0x1FF)
        // Periodic, divide by 1, one expiry per millisecond.
        write(0x3E0, 0xB)
        write(0x320, 0x2_0000 | UInt32(vector))
        write(0x380, 1_000_000)
    }

    private func write(_ offset: UInt64, _ value: UInt32) {
        apics.write(BusAccess(address: page + offset, offset: offset, size: 4, vcpu: 0), value: UInt64(value))
    }

    /// Takes and ends timer interrupts while any is deliverable; returns how many.
    private func takeAll() -> Int {
        var taken = 0
        while apics.apics[0].acknowledge() == vector {
            taken += 1
            write(0xB0, 0)
        }
        return taken
    }

    func testExpiriesALateHostTimerSleptThroughAreEachDelivered() {
        timers.advance(to: 3_500_000)
        XCTAssertEqual(takeAll(), 3, "boundaries at 1, 2 and 3 ms")
        timers.advance(to: 4_000_000)
        XCTAssertEqual(takeAll(), 1, "back on the 1 ms grid")
    }

    func testAGuestSlowToTakeTheInterruptLosesTicksAsOnHardware() {
        for millisecond in 1...3 { timers.advance(to: UInt64(millisecond) * 1_000_000) }
        XCTAssertEqual(takeAll(), 1, "the 2 and 3 ms expiries found the IRR bit still set")
    }

    func testOnlyExpiriesAfterTheLastAcknowledgeCount() {
        timers.advance(to: 1_000_000)
        timers.advance(to: 1_500_000)
        XCTAssertEqual(apics.apics[0].acknowledge(), vector, "taken at 1.5 ms")
        write(0xB0, 0)
        timers.advance(to: 3_200_000)
        XCTAssertEqual(takeAll(), 2, "2 and 3 ms, both after the acknowledge")
    }

    func testReprogrammingForgetsOwedExpiries() {
        timers.advance(to: 5_000_000)
        XCTAssertEqual(apics.apics[0].acknowledge(), vector)
        write(0x380, 0)
        write(0xB0, 0)
        XCTAssertEqual(takeAll(), 1, "the expiry already requested stays; the owed ones are gone")
    }

    func testCatchUpIsCappedAtOneSecondOfPeriods() {
        timers.advance(to: 5_000_000_000)
        XCTAssertEqual(takeAll(), 1001, "one requested, a thousand owed")
    }
}
