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
}
