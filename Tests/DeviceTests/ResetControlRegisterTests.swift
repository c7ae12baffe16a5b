import ACPIPM
import VMMKit
import XCTest

/// Port 0xCF9, the chipset's reset control register (PIIX4 RC, the ICH's RST_CNT).
final class ResetControlRegisterTests: XCTestCase {
    private func attached() throws -> Machine {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        try machine.add(ResetControlRegister())
        return machine
    }

    /// Linux's `reboot=pci`: SYS_RST alone first (no reset), then SYS_RST | RST_CPU.
    func testWarmThenHardResetAsLinuxWritesThem() throws {
        let machine = try attached()
        machine.ports.write(0xCF9, size: 1, value: 0x02, vcpu: 0)
        XCTAssertFalse(machine.runControl.isResetPending)
        XCTAssertEqual(machine.ports.read(0xCF9, size: 1, vcpu: 0), 0x02, "SYS_RST reads back")
        machine.ports.write(0xCF9, size: 1, value: 0x06, vcpu: 0)
        XCTAssertTrue(machine.runControl.isResetPending)
        XCTAssertTrue(machine.runControl.isStopRequested, "the vCPUs are asked to leave guest code")
        XCTAssertNil(machine.runControl.stopOutcome, "a reset is not an outcome")
    }

    func testFullResetValue() throws {
        let machine = try attached()
        machine.ports.write(0xCF9, size: 1, value: 0x0E, vcpu: 0)
        XCTAssertTrue(machine.runControl.isResetPending)
        XCTAssertEqual(machine.ports.read(0xCF9, size: 1, vcpu: 0), 0x0A, "RST_CPU is a strobe, not stored")
    }

    func testOnlyRSTCPUResets() throws {
        let machine = try attached()
        for value in [0x00, 0x01, 0x02, 0x08, 0x0A, 0xFB] {
            machine.ports.write(0xCF9, size: 1, value: UInt64(value), vcpu: 0)
        }
        XCTAssertFalse(machine.runControl.isResetPending)
        XCTAssertFalse(machine.ports.isClaimed(0xCF8), "the PCI configuration ports are not this register's")
        XCTAssertFalse(machine.ports.isClaimed(0xCFA))
    }

    func testDeviceResetClearsTheRegister() throws {
        let machine = try attached()
        machine.ports.write(0xCF9, size: 1, value: 0x0A, vcpu: 0)
        machine.devices.forEach { $0.reset() }
        XCTAssertEqual(machine.ports.read(0xCF9, size: 1, vcpu: 0), 0)
    }

    /// An outcome (Ctrl-C, the timeout) wins over a pending reset, and a reset after an outcome is
    /// ignored: a guest resetting in a loop cannot keep the run from ending.
    func testAnOutcomeWinsOverAPendingReset() throws {
        let machine = try attached()
        machine.ports.write(0xCF9, size: 1, value: 0x06, vcpu: 0)
        machine.runControl.requestStop(.interrupted("SIGINT"))
        XCTAssertFalse(machine.runControl.isResetPending)
        XCTAssertEqual(machine.runControl.stopOutcome, .interrupted("SIGINT"))
        machine.ports.write(0xCF9, size: 1, value: 0x06, vcpu: 0)
        XCTAssertEqual(machine.runControl.stopOutcome, .interrupted("SIGINT"))
    }
}
