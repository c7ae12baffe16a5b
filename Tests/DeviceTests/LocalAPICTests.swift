import LocalAPIC
import Synchronization
import VMMKit
import XCTest

/// Counts kicks per vCPU and EOI broadcasts.
final class APICKickRecorder: @unchecked Sendable {
    private let kicks = Mutex<[Int: Int]>([:])
    private let broadcasts = Mutex<[UInt8]>([])
    func kick(_ vcpu: Int) { kicks.withLock { $0[vcpu, default: 0] += 1 } }
    func count(_ vcpu: Int) -> Int { kicks.withLock { $0[vcpu, default: 0] } }
    func broadcast(_ vector: UInt8) { broadcasts.withLock { $0.append(vector) } }
    var endedVectors: [UInt8] { broadcasts.withLock { $0 } }
}

final class LocalAPICTests: XCTestCase {
    private let page: UInt64 = 0xFEE0_0000
    private var timers = DeviceTimers(clock: .manual)
    private var apics = LocalAPICs(vcpuCount: 2, timers: DeviceTimers(clock: .manual))
    private var recorder = APICKickRecorder()

    override func setUp() {
        timers = DeviceTimers(clock: .manual)
        apics = LocalAPICs(vcpuCount: 4, timers: timers)
        recorder = APICKickRecorder()
        apics.kick = { [recorder] in recorder.kick($0) }
        apics.endOfInterruptBroadcast = { [recorder] in recorder.broadcast($0) }
        for vcpu in 0..<4 { write(vcpu, 0xF0, 0x1FF) }
    }

    private func write(_ vcpu: Int, _ offset: UInt64, _ value: UInt32) {
        apics.write(BusAccess(address: page + offset, offset: offset, size: 4, vcpu: vcpu), value: UInt64(value))
    }

    private func read(_ vcpu: Int, _ offset: UInt64) -> UInt32 {
        UInt32(truncatingIfNeeded: apics.read(BusAccess(address: page + offset, offset: offset, size: 4, vcpu: vcpu)))
    }

    private func fixed(_ vector: UInt8, to destination: UInt8 = 0, level: Bool = false) {
        apics.deliver(APICMessage(vector: vector, deliveryMode: .fixed, destination: destination, levelTriggered: level))
    }

    private func apic(_ vcpu: Int) -> LocalAPIC { apics.apics[vcpu] }

    func testIdentificationAndBaseMSR() {
        XCTAssertEqual(read(0, 0x20), 0)
        XCTAssertEqual(read(2, 0x20), 0x0200_0000)
        XCTAssertEqual(read(1, 0x30), 0x0005_0014)
        XCTAssertEqual(apics.readMSR(0x1B, vcpu: 0), 0xFEE0_0900, "enabled, BSP")
        XCTAssertEqual(apics.readMSR(0x1B, vcpu: 1), 0xFEE0_0800)
        XCTAssertFalse(apics.writeMSR(0x1B, value: 0xFEE0_0C00, vcpu: 1), "x2APIC mode is not offered")
        XCTAssertFalse(apics.writeMSR(0x1B, value: 0xFEE0_0801, vcpu: 1), "reserved bit")
    }

    func testFixedInterruptGoesThroughIRRAndISRAndEOI() {
        fixed(0x41)
        XCTAssertEqual(recorder.count(0), 1)
        XCTAssertTrue(apic(0).hasDeliverableInterrupt)
        XCTAssertEqual(read(0, 0x200 + 0x20), 1 << 1, "IRR bit 0x41")
        XCTAssertEqual(apic(0).acknowledge(), 0x41)
        XCTAssertEqual(read(0, 0x100 + 0x20), 1 << 1, "ISR bit 0x41")
        XCTAssertEqual(read(0, 0xA0), 0x40, "PPR is the in-service class")
        write(0, 0xB0, 0)
        XCTAssertEqual(read(0, 0x100 + 0x20), 0)
        XCTAssertEqual(recorder.endedVectors, [], "an edge vector is not broadcast")
    }

    func testTaskPriorityHoldsLowerClassesUntilLowered() {
        write(0, 0x80, 0x50)
        fixed(0x45)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt, "class 4 is not above TPR class 5")
        XCTAssertNil(apic(0).acknowledge())
        let kicksBefore = recorder.count(0)
        write(0, 0x80, 0x30)
        XCTAssertTrue(apic(0).hasDeliverableInterrupt)
        XCTAssertEqual(recorder.count(0), kicksBefore + 1, "lowering TPR kicks the vCPU")
        XCTAssertEqual(apic(0).acknowledge(), 0x45)
    }

    func testCR8IsTaskPriorityClass() {
        apic(1).setTaskPriorityClass(0x7)
        XCTAssertEqual(read(1, 0x80), 0x70)
        write(1, 0x80, 0x9F)
        XCTAssertEqual(apic(1).taskPriorityClass, 0x9)
        fixed(0x85, to: 1)
        XCTAssertFalse(apic(1).hasDeliverableInterrupt)
        apic(1).setTaskPriorityClass(0)
        XCTAssertTrue(apic(1).hasDeliverableInterrupt)
    }

    func testNestedPrioritiesAndEOIOrder() {
        fixed(0x40)
        XCTAssertEqual(apic(0).acknowledge(), 0x40)
        fixed(0x30)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt, "class 3 waits behind class 4 in service")
        fixed(0x80)
        XCTAssertEqual(apic(0).acknowledge(), 0x80, "class 8 nests")
        XCTAssertEqual(read(0, 0xA0), 0x80)
        write(0, 0xB0, 0)
        XCTAssertEqual(read(0, 0x100 + 0x40), 0, "EOI ended 0x80 first")
        XCTAssertEqual(read(0, 0x100 + 0x20), 1, "0x40 still in service")
        write(0, 0xB0, 0)
        XCTAssertEqual(apic(0).acknowledge(), 0x30)
    }

    func testLevelTriggeredEOIIsBroadcast() {
        fixed(0x62, level: true)
        XCTAssertEqual(read(0, 0x180 + 0x30), 1 << 2, "TMR records the level vector")
        XCTAssertEqual(apic(0).acknowledge(), 0x62)
        write(0, 0xB0, 0)
        XCTAssertEqual(recorder.endedVectors, [0x62])
    }

    func testArbitrationPriority() {
        write(0, 0x80, 0x20)
        XCTAssertEqual(read(0, 0x90), 0x20)
        fixed(0x51)
        XCTAssertEqual(read(0, 0x90), 0x50, "IRR class above TPR")
    }

    func testLogicalFlatAndClusterDestinations() {
        write(1, 0xD0, 0x0200_0000)
        write(2, 0xD0, 0x0400_0000)
        apics.deliver(APICMessage(vector: 0x50, deliveryMode: .fixed, logicalDestination: true, destination: 0x06))
        XCTAssertFalse(apic(0).hasDeliverableInterrupt)
        XCTAssertTrue(apic(1).hasDeliverableInterrupt)
        XCTAssertTrue(apic(2).hasDeliverableInterrupt)
        XCTAssertEqual(read(1, 0xE0), 0xFFFF_FFFF)

        write(3, 0xE0, 0x0FFF_FFFF)
        XCTAssertEqual(read(3, 0xE0), 0x0FFF_FFFF)
        write(3, 0xD0, 0x2100_0000)
        apics.deliver(APICMessage(vector: 0x51, deliveryMode: .fixed, logicalDestination: true, destination: 0x11))
        XCTAssertFalse(apic(3).hasDeliverableInterrupt, "cluster 1 is not cluster 2")
        apics.deliver(APICMessage(vector: 0x51, deliveryMode: .fixed, logicalDestination: true, destination: 0x21))
        XCTAssertTrue(apic(3).hasDeliverableInterrupt)
    }

    func testFixedIPIsWithDestinationsAndShorthands() {
        write(0, 0x310, 0x0200_0000)
        write(0, 0x300, 0x4060)
        XCTAssertEqual(apic(2).acknowledge(), 0x60, "physical destination 2")
        XCTAssertEqual(read(0, 0x300) & 0x1000, 0, "delivery status idle")
        write(1, 0x300, 0x4_4061)
        XCTAssertEqual(apic(1).acknowledge(), 0x61, "self shorthand")
        write(1, 0x300, 0xC_4072)
        XCTAssertEqual([0, 1, 2, 3].map { apic($0).acknowledge() }, [0x72, nil, 0x72, 0x72], "all but self")
        write(3, 0x300, 0x8_4083)
        XCTAssertEqual([0, 1, 2, 3].map { apic($0).acknowledge() }, [0x83, 0x83, 0x83, 0x83], "all including self")
    }

    func testLowestPriorityPicksTheLowestArbitrationPriority() {
        for vcpu in 0..<4 { write(vcpu, 0x80, 0x40) }
        write(2, 0x80, 0x10)
        write(0, 0x300, 0xC_4170)
        XCTAssertTrue(apic(2).hasDeliverableInterrupt)
        XCTAssertFalse(apic(1).hasDeliverableInterrupt)
        XCTAssertFalse(apic(3).hasDeliverableInterrupt)
    }

    func testNMIInitAndStartupIPIs() {
        write(0, 0x310, 0x0100_0000)
        write(0, 0x300, 0x4400)
        XCTAssertTrue(apic(1).takeNonMaskableInterrupt())
        XCTAssertFalse(apic(1).takeNonMaskableInterrupt())
        write(1, 0x80, 0x30)
        write(0, 0x300, 0x4500)
        write(0, 0x300, 0x8500)
        write(0, 0x300, 0x4608)
        XCTAssertEqual(apic(1).takeStartupSignal(), .initialize)
        XCTAssertEqual(apic(1).takeStartupSignal(), .startup(vector: 0x08))
        XCTAssertNil(apic(1).takeStartupSignal())
        XCTAssertEqual(read(1, 0x80), 0, "INIT reset the registers")
        XCTAssertEqual(read(1, 0x20), 0x0100_0000, "but kept the APIC ID")
        XCTAssertGreaterThanOrEqual(recorder.count(1), 3)
    }

    func testIllegalVectorsAreErrors() {
        write(0, 0x370, 0xEE)
        write(0, 0x300, 0x4_4005)
        write(0, 0x280, 0)
        XCTAssertEqual(read(0, 0x280), 0x20, "send illegal vector")
        XCTAssertEqual(apic(0).acknowledge(), 0xEE, "through the error LVT")
        fixed(0x07)
        write(0, 0x280, 0)
        XCTAssertEqual(read(0, 0x280), 0x40, "receive illegal vector")
        write(0, 0x280, 0)
        XCTAssertEqual(read(0, 0x280), 0)
    }

    func testSoftwareDisableMasksTheLocalVectorTableAndDropsInterrupts() {
        write(0, 0x320, 0x30)
        write(0, 0xF0, 0xFF)
        XCTAssertEqual(read(0, 0x320), 0x1_0030)
        write(0, 0x350, 0x700)
        XCTAssertEqual(read(0, 0x350), 0x1_0700, "mask stays forced")
        fixed(0x44)
        XCTAssertEqual(read(0, 0x200 + 0x20), 0)
        XCTAssertEqual(read(0, 0xF0), 0xFF)
    }

    func testLocalVectorTableWritableBits() {
        write(0, 0x320, 0xFFFF_FFFF)
        XCTAssertEqual(read(0, 0x320), 0x7_00FF)
        write(0, 0x360, 0xFFFF_FFFF)
        XCTAssertEqual(read(0, 0x360), 0x1_A7FF)
        write(0, 0x330, 0xFFFF_FFFF)
        XCTAssertEqual(read(0, 0x330), 0x1_07FF)
        write(0, 0x340, 0x0)
        XCTAssertEqual(read(0, 0x340), 0)
    }

    func testOneShotTimerWithDivider() {
        write(0, 0x3E0, 0x1)
        XCTAssertEqual(read(0, 0x3E0), 0x1)
        write(0, 0x320, 0x31)
        write(0, 0x380, 1000)
        timers.advance(to: 2000)
        XCTAssertEqual(read(0, 0x390), 500, "1000 ticks at 4 ns: half way")
        XCTAssertFalse(apic(0).hasDeliverableInterrupt)
        timers.advance(to: 3999)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt)
        timers.advance(to: 4000)
        XCTAssertEqual(apic(0).acknowledge(), 0x31)
        XCTAssertEqual(read(0, 0x390), 0)
        timers.advance(to: 100_000)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt, "one shot")
    }

    func testCurrentCountCountsDown() {
        write(0, 0x3E0, 0xB)
        write(0, 0x320, 0x31)
        write(0, 0x380, 1000)
        timers.advance(to: 250)
        XCTAssertEqual(read(0, 0x390), 750)
    }

    func testPeriodicTimer() {
        write(0, 0x3E0, 0xB)
        write(0, 0x320, 0x2_0032)
        write(0, 0x380, 1_000_000)
        var fired = 0
        for millisecond in 1...5 {
            timers.advance(to: UInt64(millisecond) * 1_000_000)
            if apic(0).acknowledge() == 0x32 {
                fired += 1
                write(0, 0xB0, 0)
            }
        }
        XCTAssertEqual(fired, 5)
        write(0, 0x380, 0)
        timers.advance(to: 10_000_000)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt, "a zero initial count stops the timer")
    }

    func testMaskedTimerCountsWithoutInterrupting() {
        write(0, 0x3E0, 0xB)
        write(0, 0x320, 0x1_0033)
        write(0, 0x380, 100)
        timers.advance(to: 1000)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt)
    }

    func testTSCDeadlineTimer() {
        write(0, 0x320, 0x4_0034)
        XCTAssertTrue(apics.writeMSR(0x6E0, value: 5000, vcpu: 0))
        XCTAssertEqual(apics.readMSR(0x6E0, vcpu: 0), 5000)
        write(0, 0x380, 10)
        XCTAssertEqual(read(0, 0x380), 0, "the initial count is ignored in TSC-deadline mode")
        timers.advance(to: 4999)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt)
        timers.advance(to: 5000)
        XCTAssertEqual(apic(0).acknowledge(), 0x34)
        XCTAssertEqual(apics.readMSR(0x6E0, vcpu: 0), 0, "disarmed after firing")
        write(0, 0xB0, 0)
        _ = apics.writeMSR(0x6E0, value: 10, vcpu: 0)
        XCTAssertTrue(apic(0).hasDeliverableInterrupt, "a past deadline fires at once")
    }

    func testLeavingTSCDeadlineModeDisarms() {
        write(0, 0x320, 0x4_0034)
        _ = apics.writeMSR(0x6E0, value: 5000, vcpu: 0)
        write(0, 0x320, 0x0_0034)
        timers.advance(to: 10_000)
        XCTAssertFalse(apic(0).hasDeliverableInterrupt)
        _ = apics.writeMSR(0x6E0, value: 20_000, vcpu: 0)
        XCTAssertEqual(apics.readMSR(0x6E0, vcpu: 0), 0, "the MSR is inert outside TSC-deadline mode")
    }

    func testGlobalDisableAndRelocation() {
        XCTAssertTrue(apics.writeMSR(0x1B, value: 0xFEE0_1800, vcpu: 1))
        XCTAssertEqual(apics.read(BusAccess(address: page + 0x20, offset: 0x20, size: 4, vcpu: 1)), 0xFFFF_FFFF,
                       "nothing at the old page")
        XCTAssertEqual(apics.read(BusAccess(address: page + 0x1030, offset: 0x1030, size: 4, vcpu: 1)), 0x0005_0014)
        XCTAssertEqual(read(0, 0x30), 0x0005_0014, "vCPU 0 keeps its page")

        XCTAssertTrue(apics.writeMSR(0x1B, value: 0xFEE0_1000, vcpu: 1))
        XCTAssertEqual(apics.read(BusAccess(address: page + 0x1030, offset: 0x1030, size: 4, vcpu: 1)), 0xFFFF_FFFF)
        fixed(0x50, to: 1)
        XCTAssertFalse(apic(1).hasDeliverableInterrupt, "a disabled APIC takes no interrupts")
        var result = CPUIDResult()
        apics.adjust(leaf: 1, subleaf: 0, vcpu: 1, result: &result)
        XCTAssertEqual(result.edx & (1 << 9), 0)
        XCTAssertEqual(result.ebx >> 24, 1)
    }

    func testSubDwordReadsAndIgnoredNarrowWrites() {
        write(0, 0x80, 0xA5)
        XCTAssertEqual(apics.read(BusAccess(address: page + 0x80, offset: 0x80, size: 1, vcpu: 0)), 0xA5)
        XCTAssertEqual(apics.read(BusAccess(address: page + 0x34, offset: 0x34, size: 4, vcpu: 0)), 0)
        apics.write(BusAccess(address: page + 0x80, offset: 0x80, size: 1, vcpu: 0), value: 0x11)
        XCTAssertEqual(read(0, 0x80), 0xA5)
    }

    func testExternalInterruptAcceptance() {
        XCTAssertTrue(apic(0).acceptsExternalInterrupt, "the BSP's LINT0 starts in virtual-wire ExtINT mode")
        XCTAssertFalse(apic(1).acceptsExternalInterrupt)
        write(0, 0x350, 0x1_0700)
        XCTAssertFalse(apic(0).acceptsExternalInterrupt)
        apics.deliver(APICMessage(vector: 0, deliveryMode: .external, destination: 1))
        XCTAssertTrue(apic(1).acceptsExternalInterrupt)
        apic(1).acknowledgeExternalInterrupt()
        XCTAssertFalse(apic(1).acceptsExternalInterrupt)
    }
}
