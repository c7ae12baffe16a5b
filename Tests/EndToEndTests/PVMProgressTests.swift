import TestSupport
import XCTest

/// On a PVM host (KVM emulating every guest supervisor instruction) a kernel that computes without
/// touching a device would look hung; vmm says once what is happening, with RIP and the exit count.
final class PVMProgressTests: XCTestCase {
    func testASilentGuestOnPVMGetsOneExplanation() throws {
        try EndToEnd.requireKVM()
        guard EndToEnd.isPVMHost else { throw XCTSkip("not a PVM host: KVM runs supervisor code in hardware here") }
        // The sieve computes for minutes at the emulator's speed before it prints anything.
        let result = try EndToEnd.vmm(["--backend", "kvm", "--append", "n=30000000", "--timeout", "30",
                                       try GuestKernels.path("sieve")], timeout: 90)
        XCTAssertEqual(result.status, 124, result.standardError)
        let notes = result.standardError.components(separatedBy: "vmm: no exit from the guest for 5 s").count - 1
        XCTAssertEqual(notes, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("vCPU 0 is at RIP 0x"), result.standardError)
    }

    func testAGuestThatFinishesGetsNone() throws {
        try EndToEnd.requireKVM()
        let result = try EndToEnd.vmm(["--backend", "kvm", "--timeout", "60", try GuestKernels.path("hello")], timeout: 90)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertFalse(result.standardError.contains("no exit from the guest"), result.standardError)
    }
}
