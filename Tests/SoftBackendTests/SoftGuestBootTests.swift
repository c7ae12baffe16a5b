import HostIO
import PCBoard
import Serial16550
import SoftBackend
import TestSupport
import VMMKit
import XCTest

/// The milestone guests of Tests/Guests boot on the Soft backend with the serial output and exit status
/// they have under QEMU (the QEMU comparison runs when qemu-system-x86_64 is installed).
final class SoftGuestBootTests: XCTestCase {
    struct Run {
        let outcome: MachineOutcome
        let serial: String
    }

    /// Boots guest `name` on the soft backend (512 MiB, like the QEMU reference run) with a 300-second watchdog (only a hang should end it).
    func boot(_ name: String, devices: [String] = []) throws -> Run {
        let output = ConsoleOutput.memory()
        let description = MachineDescription(kernelPath: try GuestKernels.path(name), memorySize: 512 << 20,
                                             serial: .output(output), devices: devices)
        let machine = try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
        let outcome = try machine.run(on: SoftBackend(), timeout: 300)
        output.flush()
        return Run(outcome: outcome, serial: output.capturedText)
    }

    /// The guest's lines under QEMU after the firmware banner, without the lines that describe the boot
    /// information rather than the CPU (QEMU reserves the top of RAM for its firmware); nil without
    /// QEMU. The command line stays: both put the kernel path first for a Multiboot kernel.
    func qemuLines(_ name: String) throws -> [String]? {
        guard QEMU.executable != nil else { return nil }
        let result = QEMU.runKernel(try GuestKernels.path(name), timeout: 60)
        let text = result.standardOutput.components(separatedBy: "Booting from ROM..").last ?? ""
        return comparable(text)
    }

    func comparable(_ text: String) -> [String] {
        text.split(separator: "\n").map(String.init).filter {
            !$0.hasPrefix("mem_upper:") && !$0.isEmpty
        }
    }

    func assertMatchesQEMU(_ name: String, _ run: Run, file: StaticString = #filePath, line: UInt = #line) throws {
        guard let reference = try qemuLines(name) else { return }
        XCTAssertEqual(comparable(run.serial), reference, file: file, line: line)
    }

    func testHelloMultiboot32() throws {
        let run = try boot("hello")
        XCTAssertEqual(run.outcome, .guestExit(value: 0), run.serial)
        XCTAssertTrue(run.serial.contains("Hello from a multiboot guest"), run.serial)
        XCTAssertTrue(run.serial.contains("PASS"), run.serial)
        try assertMatchesQEMU("hello", run)
    }

    func testHello64() throws {
        let run = try boot("hello64")
        XCTAssertEqual(run.outcome, .guestExit(value: 0), run.serial)
        XCTAssertTrue(run.serial.contains("Hello from long mode"), run.serial)
        try assertMatchesQEMU("hello64", run)
    }

    func testPortIOWithTestDevice() throws {
        let run = try boot("portio", devices: ["test-device"])
        XCTAssertEqual(run.outcome, .guestExit(value: 0), run.serial)
        XCTAssertTrue(run.serial.contains("PASS"), run.serial)
    }

    func testMMIOWithTestDevice() throws {
        let run = try boot("mmio", devices: ["test-device"])
        XCTAssertEqual(run.outcome, .guestExit(value: 0), run.serial)
        XCTAssertTrue(run.serial.contains("test device mmio: ok"), run.serial)
    }

    func testTripleFaultShutsDownWithRegisterDump() throws {
        let run = try boot("triplefault")
        guard case let .shutdown(vcpu, dump) = run.outcome else {
            return XCTFail("expected a shutdown, got \(run.outcome); serial: \(run.serial)")
        }
        XCTAssertEqual(vcpu, 0)
        XCTAssertTrue(dump.contains("RIP="), dump)
        XCTAssertTrue(dump.contains("CR0="), dump)
        XCTAssertTrue(run.serial.contains("about to triple fault"), run.serial)
        XCTAssertFalse(run.serial.contains("still running"), run.serial)
        try assertMatchesQEMU("triplefault", run)
    }
}
