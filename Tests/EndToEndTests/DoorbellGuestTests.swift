import Foundation
import TestSupport
import XCTest

/// Doorbells end to end (issue 12: ioeventfd as a VMMKit facility): the doorbellbench guest writes
/// the test device's port and MMIO doorbells n times each and waits until the device's own thread
/// has taken every ring; writes the doorbells do not match reach the device as ordinary accesses.
/// On Soft the vCPU rings them itself (the "doorbells" row); on KVM the kernel does (KVM_IOEVENTFD),
/// so vmm's userspace never sees one: no "doorbells" row, while the device counts every ring.
final class DoorbellGuestTests: XCTestCase {
    private static let writes = 2000

    private func run(backend: [String]) throws -> ProcessResult {
        let arguments = backend + ["--device", "test-device,doorbells=on", "--stats", "--timeout", "280",
                                   "--append", "n=\(Self.writes)", try GuestKernels.path("doorbellbench")]
        let result = try EndToEnd.vmm(arguments, timeout: 300)
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("doorbells: \(Self.writes) port and \(Self.writes) MMIO rings taken"),
                      result.standardOutput)
        for doorbell in ["port doorbell", "MMIO doorbell"] {
            XCTAssertEqual(EndToEnd.statistic("test-device@0x600 " + doorbell, in: result.standardError), Self.writes,
                           "\(doorbell) rings the device's thread took: \(result.standardError)")
        }
        return result
    }

    func testTheDeviceThreadTakesEveryRingOnSoft() throws {
        let result = try run(backend: ["--backend", "soft"])
        XCTAssertEqual(EndToEnd.statistic("doorbells", in: result.standardError), 2 * Self.writes,
                       "rung from the vCPU's thread: \(result.standardError)")
    }

    func testNoDoorbellLeavesTheKernelOnKVM() throws {
        try EndToEnd.requireKVM()
        let result = try run(backend: ["--backend", "kvm"])
        XCTAssertNil(EndToEnd.statistic("doorbells", in: result.standardError),
                     "no doorbell rung in vmm's userspace: \(result.standardError)")
        // The guest's ordinary writes are still exits: n to the port scratch register alone.
        XCTAssertGreaterThanOrEqual(EndToEnd.statistic("port I/O", in: result.standardError) ?? 0, Self.writes)
    }

    /// PV I/O delay on KVM: port 0x80 is an ioeventfd nobody reads, so a delay write never reaches
    /// vmm (no port I/O exit); with it off each is one.
    func testPortDelayWritesNeverReachUserspaceOnKVM() throws {
        try EndToEnd.requireKVM()
        for (pv, exits) in [("all", 0), ("none", 1000)] {
            func portIO(_ append: String) throws -> Int? {
                let result = try EndToEnd.vmm(["--backend", "kvm", "--pv", pv, "--stats", "--timeout", "280", "--append", append,
                                               try GuestKernels.path("pv-features")], timeout: 300)
                XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
                return EndToEnd.statistic("port I/O", in: result.standardError)
            }
            let quiet = try portIO("")
            let delaying = try portIO("delays=1000")
            XCTAssertEqual((delaying ?? 0) - (quiet ?? 0), exits, "--pv \(pv): port I/O exits for 1000 delay writes")
        }
    }
}
