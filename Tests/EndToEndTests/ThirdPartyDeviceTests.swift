import Foundation
import TestSupport
import XCTest

/// Examples/ThirdPartyDevice is a separate package that adds a "dice" device to vmm through the
/// public API only. These tests build it as a user would, run its unit tests, and boot a guest
/// that talks to the device through `vmm-extended`.
final class ThirdPartyDeviceTests: XCTestCase {
    private static let packagePath = GuestKernels.repositoryRoot + "/Examples/ThirdPartyDevice"
    private static let scratchPath = GuestKernels.repositoryRoot + "/.build-e2e/third-party"
    /// Building vmm's packages from scratch on two cores takes minutes; this bounds it.
    private static let buildTimeout: Double = 1800

    /// `swift build` of vmm-extended, once per test process.
    private static let build: Result<String, Error> = {
        let result = HostProcess.run("swift", ["build", "--package-path", packagePath, "--scratch-path", scratchPath,
                                               "--product", "vmm-extended"], timeout: buildTimeout)
        guard result.status == 0, !result.timedOut else {
            return .failure(BuildFailure(output: result.standardOutput + result.standardError))
        }
        return .success(scratchPath + "/debug/vmm-extended")
    }()

    private struct BuildFailure: Error, CustomStringConvertible {
        let output: String
        var description: String { "swift build of Examples/ThirdPartyDevice failed:\n\(output)" }
    }

    func testExtendedCommandListsTheDevice() throws {
        let executable = try Self.build.get()
        let result = HostProcess.run(executable, ["--list-devices"], timeout: 30)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("dice"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("test-device"), "the built-in devices are still there")
    }

    func testGuestRollsTheDice() throws {
        try EndToEnd.requireKVM()
        let executable = try Self.build.get()
        let result = HostProcess.run(executable, ["--backend", "kvm", "--device", "dice,port=0x700",
                                                  try GuestKernels.path("thirdparty")],
                                     timeout: EndToEnd.guestTimeout)
        XCTAssertFalse(result.timedOut)
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("dice: ok\n"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.hasSuffix("PASS\n"), result.standardOutput)
    }

    func testGuestFailsWithoutTheDevice() throws {
        try EndToEnd.requireKVM()
        let result = try EndToEnd.vmm(["--backend", "kvm", try GuestKernels.path("thirdparty")])
        XCTAssertEqual(result.status, 3, "the guest's fail() status: \(result.standardOutput)")
        XCTAssertTrue(result.standardOutput.contains("FAIL"), result.standardOutput)
    }

    func testExamplePackageUnitTests() throws {
        _ = try Self.build.get()
        let result = HostProcess.run("swift", ["test", "--package-path", Self.packagePath,
                                               "--scratch-path", Self.scratchPath], timeout: Self.buildTimeout)
        XCTAssertFalse(result.timedOut)
        XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("DiceDeviceTests"), result.standardOutput)
    }
}
