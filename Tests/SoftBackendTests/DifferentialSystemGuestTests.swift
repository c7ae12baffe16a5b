import Foundation
import SoftBackend
import TestSupport
import VMMKit
import XCTest
import KernelLoading

/// The system-level guests of Tests/Guests/system (paging, exceptions and error codes, privilege
/// changes, stack switches) on the Soft backend and under QEMU TCG, run live: each prints a line
/// per check with the values it observed, so the two transcripts must be equal line for line.
/// Without QEMU the reference is the transcript recorded from it in Tests/Guests/system/expected.
final class DifferentialSystemGuestTests: XCTestCase {
    static let guests = ["sys_exceptions32", "sys_paging32", "sys_privilege32",
                         "sys_exceptions64", "sys_paging64", "sys_privilege64"]
    static let timeout = 60.0
    /// Each guest's first line starts with this; what comes before it is firmware output (QEMU's
    /// SeaBIOS banner).
    static let transcriptStart = "system:"

    func testEachSystemGuestOnTheSoftBackendMatchesQEMU() throws {
        for name in Self.guests {
            let path = try GuestKernels.path(name)
            let reference = try referenceTranscript(name, path: path)
            let (outcome, output) = try runOnSoftBackend(path)
            XCTAssertEqual(outcome, .guestExit(value: 0), "\(name) on the Soft backend:\n\(output)")
            assertSameLines(name, expected: reference, actual: Self.transcript(output))
        }
    }

    /// QEMU's transcript, live when qemu-system-x86_64 is installed.
    func referenceTranscript(_ name: String, path: String) throws -> String {
        guard QEMU.executable != nil else {
            let recorded = "\(GuestKernels.guestsDirectory)/system/expected/\(name).txt"
            return try String(contentsOfFile: recorded, encoding: .utf8)
        }
        let live = QEMU.runKernel(path, timeout: Self.timeout)
        XCTAssertFalse(live.timedOut, "\(name): QEMU timed out")
        XCTAssertEqual(live.status, 1, "\(name) under QEMU did not pass:\n\(live.standardOutput)")
        return Self.transcript(live.standardOutput)
    }

    static func transcript(_ output: String) -> String {
        let text = output.replacingOccurrences(of: "\r", with: "")
        guard let start = text.range(of: transcriptStart) else { return text }
        return String(text[start.lowerBound...])
    }

    func runOnSoftBackend(_ path: String) throws -> (MachineOutcome, String) {
        let machine = try Machine(memorySize: 512 << 20, vcpuCount: 1)
        let serial = SerialTranscript()
        try machine.add(serial)
        try machine.add(ExitPort())
        machine.bootState = try KernelLoader.load(kernelAt: path, into: machine, commandLine: "", modules: []).bootState
        let outcome = try machine.run(on: SoftBackend(), timeout: Self.timeout)
        return (outcome, serial.text)
    }

    func assertSameLines(_ name: String, expected: String, actual: String) {
        let expectedLines = expected.split(separator: "\n", omittingEmptySubsequences: false)
        let actualLines = actual.split(separator: "\n", omittingEmptySubsequences: false)
        var differences: [String] = []
        for index in 0..<max(expectedLines.count, actualLines.count) {
            let qemu = index < expectedLines.count ? String(expectedLines[index]) : "<none>"
            let soft = index < actualLines.count ? String(actualLines[index]) : "<none>"
            if qemu != soft { differences.append("line \(index + 1):\n  qemu: \(qemu)\n  soft: \(soft)") }
        }
        XCTAssertTrue(differences.isEmpty, "\(name): transcripts differ\n" + differences.prefix(30).joined(separator: "\n"))
    }
}
