import PCBoard
import VMMKit
import XCTest

final class PCInterruptControllerTests: XCTestCase {
    private var machine: Machine?
    private var controller = PCInterruptController(vcpuCount: 1, timers: DeviceTimers(clock: .manual))
    private var timers = DeviceTimers(clock: .manual)
    private var kicks = APICKickRecorder()

    override func setUpWithError() throws {
        timers = DeviceTimers(clock: .manual)
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 2)
        controller = PCInterruptController(vcpuCount: 2, timers: timers)
        try machine.add(controller)
        kicks = APICKickRecorder()
        controller.localAPICs.kick = { [kicks] in kicks.kick($0) }
        self.machine = machine
    }

    override func tearDown() { controller.stop() }

    private func out(_ port: UInt64, _ value: UInt8) { machine?.ports.write(port, size: 1, value: UInt64(value), vcpu: 0) }
    private func writeMMIO(_ address: UInt64, _ value: UInt32, vcpu: Int = 0) {
        machine?.mmio.write(address, size: 4, value: UInt64(value), vcpu: vcpu)
    }
    private func readMMIO(_ address: UInt64, vcpu: Int = 0) -> UInt32 {
        UInt32(truncatingIfNeeded: machine?.mmio.read(address, size: 4, vcpu: vcpu) ?? 0)
    }
    private func redirect(pin: Int, _ low: UInt32, destination: UInt8 = 0) {
        writeMMIO(0xFEC0_0000, UInt32(0x11 + 2 * pin))
        writeMMIO(0xFEC0_0010, UInt32(destination) << 24)
        writeMMIO(0xFEC0_0000, UInt32(0x10 + 2 * pin))
        writeMMIO(0xFEC0_0010, low)
    }
    private func enableAPICs() {
        for vcpu in 0..<2 { writeMMIO(0xFEE0_00F0, 0x1FF, vcpu: vcpu) }
    }
    private func initializePICs() {
        for (port, value) in [(0x20, 0x11), (0x21, 0x20), (0x21, 0x04), (0x21, 0x01),
                              (0xA0, 0x11), (0xA1, 0x28), (0xA1, 0x02), (0xA1, 0x01), (0x21, 0), (0xA1, 0)] {
            out(UInt64(port), UInt8(value))
        }
    }

    func testAttachingInstallsTheControllerAndClaimsTheDevices() throws {
        let machine = try XCTUnwrap(machine)
        XCTAssertTrue(machine.interruptRouter.sink === controller)
        XCTAssertTrue(machine.interruptSource === controller)
        for port: UInt64 in [0x20, 0xA1, 0x4D0, 0x40, 0x43, 0x61] { XCTAssertTrue(machine.ports.isClaimed(port)) }
        XCTAssertTrue(machine.mmio.isClaimed(0xFEC0_0010))
        XCTAssertTrue(machine.mmio.isClaimed(0xFEE0_0300))
        XCTAssertNotNil(machine.msrs.handler(for: 0x1B))
        XCTAssertNotNil(machine.msrs.handler(for: 0x6E0))
    }

    func testISAIRQThroughTheIOAPIC() {
        enableAPICs()
        out(0x21, 0xFF)
        redirect(pin: 4, 0x34, destination: 1)
        controller.setLine(4, high: true)
        XCTAssertEqual(kicks.count(1), 1)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 0))
        XCTAssertTrue(controller.hasPendingInterrupt(vcpu: 1))
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 1), 0x34)
    }

    /// An MSI reaches the addressed local APIC as an IOAPIC message would (SDM vol. 3, 10.11).
    func testMessageSignalledInterruptReachesTheAddressedAPIC() {
        enableAPICs()
        controller.send(MSIMessage(address: 0xFEE0_1000, data: 0x45))
        XCTAssertEqual(kicks.count(1), 1)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 0))
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 1), 0x45)
        controller.send(MSIMessage(address: 0xFED0_1000, data: 0x46))
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 1), "a write outside the interrupt window reaches no APIC")
    }

    func testIRQ0ReachesIOAPICPin2() {
        enableAPICs()
        redirect(pin: 2, 0x30)
        writeMMIO(0xFEE0_0350, 0x1_0700)
        controller.setLine(0, high: true)
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 0), 0x30)
    }

    func testPICThroughLINT0ExtINT() {
        initializePICs()
        controller.setLine(1, high: true)
        XCTAssertTrue(controller.hasPendingInterrupt(vcpu: 0))
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 1), "the PIC is wired to the BSP only")
        XCTAssertEqual(kicks.count(0), 1)
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 0), 0x21)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 0))
    }

    func testMaskedLINT0HidesThePIC() {
        initializePICs()
        enableAPICs()
        writeMMIO(0xFEE0_0350, 0x1_0700)
        controller.setLine(1, high: true)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 0))
        XCTAssertNil(controller.acknowledgeInterrupt(vcpu: 0))
    }

    func testLocalAPICVectorComesBeforeThePIC() {
        initializePICs()
        enableAPICs()
        controller.setLine(1, high: true)
        writeMMIO(0xFEE0_0300, 0x4_4090)
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 0), 0x90)
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 0), 0x21)
    }

    func testLevelLineRedeliversAfterEOIWhileAsserted() {
        enableAPICs()
        out(0x21, 0xFF)
        redirect(pin: 10, 0x8000 | 0x5A)
        controller.setLine(10, high: true)
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 0), 0x5A)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 0))
        writeMMIO(0xFEE0_00B0, 0)
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 0), 0x5A, "remote IRR cleared by the EOI broadcast")
        controller.setLine(10, high: false)
        writeMMIO(0xFEE0_00B0, 0)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 0))
        writeMMIO(0xFEC0_0000, 0x10 + 20)
        XCTAssertEqual(readMMIO(0xFEC0_0010) & 0x4000, 0)
    }

    func testStartupIPIsThroughTheICR() {
        writeMMIO(0xFEE0_0310, 0x0100_0000)
        writeMMIO(0xFEE0_0300, 0x4500)
        writeMMIO(0xFEE0_0300, 0x4610)
        XCTAssertEqual(controller.takeStartupSignal(vcpu: 1), .initialize)
        XCTAssertEqual(controller.takeStartupSignal(vcpu: 1), .startup(vector: 0x10))
        XCTAssertNil(controller.takeStartupSignal(vcpu: 0))
    }

    func testTaskPriorityThroughTheController() {
        enableAPICs()
        controller.setTaskPriority(vcpu: 0, 0xF)
        writeMMIO(0xFEE0_0300, 0x4_4050)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 0))
        XCTAssertEqual(controller.taskPriority(vcpu: 0), 0xF)
        let before = kicks.count(0)
        controller.setTaskPriority(vcpu: 0, 0)
        XCTAssertTrue(controller.hasPendingInterrupt(vcpu: 0))
        XCTAssertGreaterThan(kicks.count(0), before)
    }

    func testPITDrivesIRQ0ThroughThePIC() {
        initializePICs()
        out(0x43, 0x34)
        out(0x40, 0xA9); out(0x40, 0x04)
        timers.advance(to: 1_000_000)
        XCTAssertTrue(controller.hasPendingInterrupt(vcpu: 0))
        XCTAssertEqual(controller.acknowledgeInterrupt(vcpu: 0), 0x20)
    }

    func testOutOfRangeQueriesAreHarmless() {
        controller.setLine(99, high: true)
        controller.setLine(-3, high: true)
        XCTAssertFalse(controller.hasPendingInterrupt(vcpu: 7))
        XCTAssertNil(controller.acknowledgeInterrupt(vcpu: -1))
        XCTAssertFalse(controller.takeNonMaskableInterrupt(vcpu: 9))
        XCTAssertNil(controller.takeStartupSignal(vcpu: 9))
    }
}
