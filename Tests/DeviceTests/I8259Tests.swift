import I8259
import VMMKit
import XCTest

final class I8259Tests: XCTestCase {
    private var pic = I8259Pair()

    private func out(_ port: UInt64, _ value: UInt8) {
        pic.write(BusAccess(address: port, offset: 0, size: 1, vcpu: 0), value: UInt64(value))
    }

    private func inb(_ port: UInt64) -> UInt8 {
        UInt8(truncatingIfNeeded: pic.read(BusAccess(address: port, offset: 0, size: 1, vcpu: 0)))
    }

    /// The usual PC programming: vectors 0x20 and 0x28, cascade on IR2, 8086 mode.
    private func initialize(master icw4: UInt8 = 0x01, slave slaveICW4: UInt8 = 0x01) {
        out(0x20, 0x11); out(0x21, 0x20); out(0x21, 0x04); out(0x21, icw4)
        out(0xA0, 0x11); out(0xA1, 0x28); out(0xA1, 0x02); out(0xA1, slaveICW4)
        out(0x21, 0x00); out(0xA1, 0x00)
    }

    private func masterISR() -> UInt8 {
        out(0x20, 0x0B)
        return inb(0x20)
    }

    private func slaveISR() -> UInt8 {
        out(0xA0, 0x0B)
        return inb(0xA0)
    }

    override func setUp() {
        pic = I8259Pair()
        initialize()
    }

    func testRequestIsAcknowledgedWithItsVectorAndEndedByNonSpecificEOI() {
        XCTAssertFalse(pic.interruptOutput)
        pic.setInput(3, high: true)
        XCTAssertTrue(pic.interruptOutput)
        out(0x20, 0x0A)
        XCTAssertEqual(inb(0x20), 0x08, "IRR shows the request")
        XCTAssertEqual(pic.acknowledge(), 0x23)
        XCTAssertEqual(masterISR(), 0x08)
        XCTAssertFalse(pic.interruptOutput, "an edge request is consumed by INTA")
        out(0x20, 0x20)
        XCTAssertEqual(masterISR(), 0)
    }

    func testMaskHidesRequestUntilUnmasked() {
        out(0x21, 0x08)
        XCTAssertEqual(inb(0x21), 0x08)
        pic.setInput(3, high: true)
        XCTAssertFalse(pic.interruptOutput)
        out(0x21, 0x00)
        XCTAssertTrue(pic.interruptOutput)
    }

    func testInServiceBlocksEqualAndLowerPriorities() {
        pic.setInput(5, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x25)
        pic.setInput(6, high: true)
        XCTAssertFalse(pic.interruptOutput, "IRQ 6 is below IRQ 5 in service")
        pic.setInput(3, high: true)
        XCTAssertTrue(pic.interruptOutput, "IRQ 3 outranks IRQ 5")
        XCTAssertEqual(pic.acknowledge(), 0x23)
        out(0x20, 0x20)
        XCTAssertEqual(masterISR(), 0x20, "non-specific EOI ends the highest priority, IRQ 3")
        out(0x20, 0x20)
        XCTAssertEqual(pic.acknowledge(), 0x26)
    }

    func testSlaveInterruptsCascadeThroughMasterInput2() {
        pic.setInput(10, high: true)
        XCTAssertTrue(pic.interruptOutput)
        XCTAssertEqual(pic.acknowledge(), 0x2A)
        XCTAssertEqual(masterISR(), 0x04)
        XCTAssertEqual(slaveISR(), 0x04)
        out(0xA0, 0x20)
        out(0x20, 0x20)
        XCTAssertEqual(masterISR(), 0)
        XCTAssertEqual(slaveISR(), 0)
    }

    func testEdgeRequestIsLatchedButLevelRequestFollowsTheLine() {
        pic.setInput(3, high: true)
        pic.setInput(3, high: false)
        XCTAssertTrue(pic.interruptOutput, "the rising edge stays latched")
        XCTAssertEqual(pic.acknowledge(), 0x23)
        out(0x20, 0x20)

        out(0x4D0, 0x20)
        pic.setInput(5, high: true)
        XCTAssertTrue(pic.interruptOutput)
        pic.setInput(5, high: false)
        XCTAssertFalse(pic.interruptOutput, "a level request disappears with the line")
    }

    func testLevelRequestStaysAfterAcknowledgeAndReassertsAfterEOI() {
        out(0x4D0, 0x20)
        pic.setInput(5, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x25)
        XCTAssertFalse(pic.interruptOutput, "in service blocks it")
        out(0x20, 0x65)
        XCTAssertTrue(pic.interruptOutput, "still asserted after the specific EOI")
    }

    func testVanishedRequestGivesSpuriousIRQ7WithoutInService() {
        out(0x4D0, 0x10)
        pic.setInput(4, high: true)
        XCTAssertTrue(pic.interruptOutput)
        pic.setInput(4, high: false)
        XCTAssertEqual(pic.acknowledge(), 0x27)
        XCTAssertEqual(masterISR(), 0, "a spurious IRQ 7 sets no ISR bit")
    }

    func testVanishedSlaveRequestGivesSpuriousIRQ15WithMasterCascadeInService() {
        out(0x4D1, 0x02)
        pic.setInput(9, high: true)
        XCTAssertTrue(pic.interruptOutput)
        pic.setInput(9, high: false)
        XCTAssertEqual(pic.acknowledge(), 0x2F)
        XCTAssertEqual(masterISR(), 0x04, "the master served its cascade input")
        XCTAssertEqual(slaveISR(), 0)
    }

    func testELCRKeepsTimerKeyboardCascadeRTCAndFPUEdgeTriggered() {
        out(0x4D0, 0xFF)
        out(0x4D1, 0xFF)
        XCTAssertEqual(inb(0x4D0), 0xF8)
        XCTAssertEqual(inb(0x4D1), 0xDE)
    }

    func testAutoEOILeavesNothingInService() {
        initialize(master: 0x03)
        pic.setInput(1, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x21)
        XCTAssertEqual(masterISR(), 0)
    }

    func testSpecificEOIEndsOnlyTheNamedLevel() {
        pic.setInput(6, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x26)
        pic.setInput(3, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x23)
        out(0x20, 0x66)
        XCTAssertEqual(masterISR(), 0x08)
    }

    func testRotateOnNonSpecificEOIMakesServedLevelLowest() {
        pic.setInput(0, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x20)
        out(0x20, 0xA0)
        pic.setInput(0, high: false)
        pic.setInput(0, high: true)
        pic.setInput(1, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x21, "IRQ 0 is now the lowest priority")
    }

    func testRotateInAutoEOIMode() {
        initialize(master: 0x03)
        out(0x20, 0x80)
        pic.setInput(0, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x20)
        pic.setInput(0, high: false)
        pic.setInput(0, high: true)
        pic.setInput(7, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x27, "IRQ 7 outranks IRQ 0 after the rotation")
    }

    func testSetPriorityCommand() {
        out(0x20, 0xC4)
        pic.setInput(3, high: true)
        pic.setInput(5, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x25, "IRQ 4 lowest makes IRQ 5 highest")
    }

    func testPollCommandAnswersLikeAnAcknowledge() {
        pic.setInput(6, high: true)
        out(0x20, 0x0C)
        XCTAssertEqual(inb(0x20), 0x86)
        XCTAssertEqual(masterISR(), 0x40)
        out(0x20, 0x0C)
        XCTAssertEqual(inb(0x20), 0x00, "nothing requested")
    }

    func testSpecialMaskModeLetsLowerLevelsIn() {
        pic.setInput(3, high: true)
        XCTAssertEqual(pic.acknowledge(), 0x23)
        pic.setInput(5, high: true)
        XCTAssertFalse(pic.interruptOutput)
        out(0x21, 0x08)
        out(0x20, 0x68)
        XCTAssertTrue(pic.interruptOutput, "masked in-service IRQ 3 no longer blocks IRQ 5")
        XCTAssertEqual(pic.acknowledge(), 0x25)
        out(0x20, 0x48)
        XCTAssertFalse(pic.interruptOutput)
    }

    func testInitializationResetsMaskAndServiceButKeepsELCR() {
        out(0x4D0, 0x20)
        pic.setInput(3, high: true)
        _ = pic.acknowledge()
        out(0x21, 0xFF)
        initialize()
        XCTAssertEqual(masterISR(), 0)
        XCTAssertEqual(inb(0x4D0), 0x20)
    }

    func testRisingOutputIsReported() {
        let raised = expectation(description: "INT raised")
        raised.assertForOverFulfill = false
        pic.onInterruptOutputRaised = { raised.fulfill() }
        pic.setInput(4, high: true)
        wait(for: [raised], timeout: 60)
    }
}
