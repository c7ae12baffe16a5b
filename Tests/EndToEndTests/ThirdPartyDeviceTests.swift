import Foundation
import TestSupport
import XCTest

/// Examples/ThirdPartyDevice is a separate package that builds a "dice" device as a vmm plugin,
/// through the public API only. These tests build it as a user would, run its unit tests, and
/// boot a guest that talks to the device on the stock `vmm` with `--plugin`.
final class ThirdPartyDeviceTests: XCTestCase {
    private static let packagePath = GuestKernels.repositoryRoot + "/Examples/ThirdPartyDevice"
    private static let scratchPath = GuestKernels.repositoryRoot + "/.build-e2e/third-party"
    /// Building vmm's packages from scratch on two cores takes minutes; this bounds it.
    private static let buildTimeout: Double = 1800

    /// `swift build` of the plugin, once per test process.
    private static let build: Result<String, Error> = {
        let result = HostProcess.run("swift", ["build", "--package-path", packagePath, "--scratch-path", scratchPath,
                                               "--product", "DicePlugin"], timeout: buildTimeout)
        guard result.status == 0, !result.timedOut else {
            return .failure(BuildFailure(output: result.standardOutput + result.standardError))
        }
        return .success(scratchPath + "/debug/libDicePlugin.so")
    }()

    private struct BuildFailure: Error, CustomStringConvertible {
        let output: String
        var description: String { "swift build of Examples/ThirdPartyDevice failed:\n\(output)" }
    }

    func testListingNamesThePluginAsTheDiceOrigin() throws {
        let plugin = try Self.build.get()
        let result = try EndToEnd.vmm(["--plugin", plugin, "--list-devices"], timeout: 30)
        XCTAssertEqual(result.status, 0, result.standardError)
        let lines = result.standardOutput.split(separator: "\n")
        XCTAssertTrue(lines.contains { $0.hasPrefix("dice ") && $0.hasSuffix("[plugin \(plugin)]") }, result.standardOutput)
        XCTAssertTrue(lines.contains { $0.hasPrefix("test-device ") && $0.hasSuffix("[built in]") }, result.standardOutput)
    }

    func testGuestRollsTheDiceOnSoft() throws {
        try assertGuestRollsTheDice(backend: "soft")
    }

    func testGuestRollsTheDiceOnKVM() throws {
        try EndToEnd.requireKVM()
        try assertGuestRollsTheDice(backend: "kvm")
    }

    func testGuestFailsWithoutThePlugin() throws {
        let result = try EndToEnd.vmm(["--backend", "soft", try GuestKernels.path("thirdparty")])
        XCTAssertEqual(result.status, 3, "the guest's fail() status: \(result.standardOutput)")
        XCTAssertTrue(result.standardOutput.contains("FAIL"), result.standardOutput)
    }

    /// The soundness of the plugin interface rests on this (Sources/VMMKit/Registry/PluginInterface.swift):
    /// every VMMKit symbol the plugin uses comes from the vmm executable, none from the
    /// libVMMKit.so the plugin names as needed. glibc's LD_DEBUG=bindings reports each binding.
    func testEveryVMMKitReferenceOfThePluginBindsToVMM() throws {
        let plugin = try Self.build.get()
        let vmm = try VMMBinary.path()
        let result = HostProcess.run("/usr/bin/env", ["LD_DEBUG=bindings", vmm, "--plugin", plugin, "--list-devices"],
                                     timeout: 60)
        XCTAssertEqual(result.status, 0, String(result.standardError.suffix(2000)))
        let bindings = result.standardError.split(separator: "\n").filter {
            $0.contains("binding file \(plugin) ") && $0.contains("VMMKit")
        }
        XCTAssertFalse(bindings.isEmpty, "the plugin takes DeviceType, PluginRegistrar and more from VMMKit")
        for binding in bindings {
            XCTAssertTrue(binding.contains(" to \(vmm) "), "bound elsewhere than vmm: \(binding)")
        }
    }

    /// The dice device's `attach` claims its ports; on the debug-exit port that throws, inside the
    /// plugin's code, and the start fails with one line.
    func testDeviceWhoseAttachThrowsFailsTheStartCleanly() throws {
        let plugin = try Self.build.get()
        let result = try EndToEnd.vmm(["--backend", "soft", "--plugin", plugin, "--device", "dice,port=0xf4",
                                       try GuestKernels.path("thirdparty")])
        XCTAssertEqual(result.status, 2, result.standardError)
        XCTAssertEqual(result.standardError, "vmm: port I/O bus: 'dice@0xf4' claims 0xf4, already claimed by 'debug-exit@0xf4'\n")
        XCTAssertEqual(result.standardOutput, "", "the guest never started")
    }

    func testPluginRegisteringATakenNameIsRefused() throws {
        let plugin = try Self.build.get()
        let result = try EndToEnd.vmm(["--plugin", plugin, "--plugin", plugin, "--list-devices"], timeout: 30)
        XCTAssertEqual(result.status, 2, result.standardOutput)
        XCTAssertEqual(result.standardError,
                       "vmm: plugin '\(plugin)': device type 'dice' is already taken (plugin \(plugin))\n")
    }

    func testExamplePackageUnitTests() throws {
        _ = try Self.build.get()
        let result = HostProcess.run("swift", ["test", "--package-path", Self.packagePath,
                                               "--scratch-path", Self.scratchPath], timeout: Self.buildTimeout)
        XCTAssertFalse(result.timedOut)
        XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("DiceDeviceTests"), result.standardOutput)
    }

    private func assertGuestRollsTheDice(backend: String) throws {
        let plugin = try Self.build.get()
        let result = try EndToEnd.vmm(["--backend", backend, "--plugin", plugin, "--device", "dice,port=0x700",
                                       try GuestKernels.path("thirdparty")])
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("dice: ok\n"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.hasSuffix("PASS\n"), result.standardOutput)
    }
}
