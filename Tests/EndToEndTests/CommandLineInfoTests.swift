import TestSupport
import VMMCommand
import VMMKit
import XCTest

/// What vmm says about itself: `--version`, and `--help`'s exit statuses, which must be the ones
/// the code returns.
final class CommandLineInfoTests: XCTestCase {
    func testVersionNamesTheReleaseAndTheBackends() throws {
        let result = try EndToEnd.vmm(["--version"], timeout: 30)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.hasPrefix("vmm 0."), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("(backends: kvm, soft)"), result.standardOutput)
    }

    func testHelpGivesTheExitStatusesTheCodeReturns() throws {
        let result = try EndToEnd.vmm(["--help"], timeout: 30)
        XCTAssertEqual(result.status, 0, result.standardError)
        let help = result.standardOutput.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        let statuses: [(MachineOutcome, String)] = [
            (.failed("x"), "when the run fails"), (.interrupted("x"), "when stopped by"),
            (.timedOut(seconds: 1), "on --timeout"), (.shutdown(vcpu: 0, registerDump: ""), "on a triple fault"),
        ]
        for (outcome, words) in statuses {
            XCTAssertTrue(help.contains("\(outcome.exitStatus) \(words)"), "'\(outcome.exitStatus) \(words)' in: \(help)")
        }
        XCTAssertTrue(help.contains("\(VMMCommandLine.setupFailureStatus) when vmm cannot start the guest"), help)
    }

    /// `--irqchip kernel` without `--backend`: the default is a backend that has in-kernel
    /// controllers (KVM), named in one notice line; where none can run, one error line.
    func testInKernelControllersChooseABackendThatHasThem() throws {
        let result = try EndToEnd.vmm(["--irqchip", "kernel", "--timeout", "120", try GuestKernels.path("hello")], timeout: 150)
        let lines = result.standardError.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.standardError)
        if result.status == 2 {
            XCTAssertTrue(result.standardError.hasPrefix("vmm: no backend can run here"), result.standardError)
        } else {
            XCTAssertTrue(result.standardError.hasPrefix("vmm: using the kvm backend"), result.standardError)
            XCTAssertEqual(result.status, 1, result.standardOutput)
        }
    }
}
