import DebugExit
import VMMKit
import XCTest

final class DebugExitTests: XCTestCase {
    func testWriteRequestsGuestExitWithQEMUStatus() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        try machine.add(DebugExit())
        XCTAssertFalse(machine.runControl.isStopRequested)
        machine.ports.write(0xf4, size: 4, value: 0x21, vcpu: 0)
        // vmm's exit status for it, (0x21 << 1) | 1, is VMMCommand's: ExitStatusTests.
        XCTAssertEqual(machine.runControl.stopOutcome, .guestExit(value: 0x21))
    }

    func testClaimsFourPorts() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        try machine.add(DebugExit())
        XCTAssertTrue(machine.ports.isClaimed(0xf7))
        XCTAssertFalse(machine.ports.isClaimed(0xf8))
        XCTAssertEqual(machine.ports.read(0xf4, size: 1, vcpu: 0), 0)
    }

    func testByteWriteOnLastPort() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        try machine.add(DebugExit())
        machine.ports.write(0xf7, size: 1, value: 3, vcpu: 0)
        XCTAssertEqual(machine.runControl.stopOutcome, .guestExit(value: 3), "the exit status is 7")
    }

    func testRegisteredTypeRejectsBadSize() throws {
        var registry = DeviceRegistry()
        try registry.register(DebugExit.deviceType)
        XCTAssertThrowsError(try registry.makeDevice("debug-exit,size=9"))
        XCTAssertNoThrow(try registry.makeDevice("debug-exit,port=0x501,size=2"))
    }
}
