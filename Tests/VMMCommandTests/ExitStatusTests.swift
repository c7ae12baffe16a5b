import XCTest
import VMMCommand
import VMMKit

final class ExitStatusTests: XCTestCase {
    func testExitStatuses() {
        XCTAssertEqual(MachineOutcome.guestExit(value: 0).exitStatus, 1, "QEMU isa-debug-exit: (0 << 1) | 1")
        XCTAssertEqual(MachineOutcome.guestExit(value: 1).exitStatus, 3)
        XCTAssertEqual(MachineOutcome.guestExit(value: 0x41).exitStatus, 0x83)
        XCTAssertEqual(MachineOutcome.poweredOff.exitStatus, 0)
        XCTAssertEqual(MachineOutcome.reset.exitStatus, 0, "as QEMU with -no-reboot")
        XCTAssertEqual(MachineOutcome.shutdown(vcpu: 0, registerDump: "").exitStatus, 4)
        XCTAssertEqual(MachineOutcome.interrupted("SIGINT").exitStatus, 130)
        XCTAssertEqual(MachineOutcome.timedOut(seconds: 5).exitStatus, 124)
        XCTAssertEqual(MachineOutcome.failed("boom").exitStatus, 6, "even, unlike every debug-exit status")
    }

    func testOnlyUnusualEndsPrintAMessage() {
        XCTAssertNil(MachineOutcome.guestExit(value: 3).message)
        XCTAssertNil(MachineOutcome.poweredOff.message)
        XCTAssertTrue(MachineOutcome.shutdown(vcpu: 1, registerDump: "RIP=0").message?.contains("vCPU 1") ?? false)
        XCTAssertTrue(MachineOutcome.timedOut(seconds: 5).message?.contains("5") ?? false)
    }
}
