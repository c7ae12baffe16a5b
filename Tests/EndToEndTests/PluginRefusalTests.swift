import Foundation
import TestSupport
import XCTest

/// `--plugin` libraries vmm must refuse, each with one line and exit status 2. The libraries are
/// made here: small C ones with the C compiler, and Swift ones that do not use vmm's VMMKit (one
/// carries its own copy, one needs a newer VMMKit).
final class PluginRefusalTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-plugins-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: directory)
    }

    func testMissingFileIsRefused() throws {
        let path = directory + "/absent.so"
        try assertRefused(path, "vmm: cannot load plugin '\(path)': \(path): cannot open shared object file: No such file or directory")
    }

    func testFileThatIsNotALibraryIsRefused() throws {
        let path = directory + "/notes.so"
        try String(repeating: "not an ELF file\n", count: 8).write(toFile: path, atomically: true, encoding: .utf8)
        try assertRefused(path, "vmm: cannot load plugin '\(path)': \(path): invalid ELF header")
    }

    func testLibraryWithoutTheEntryPointIsRefused() throws {
        let path = try cLibrary("unrelated", "int unrelated_function(void) { return 0; }\n")
        try assertRefused(path, "vmm: '\(path)' is not a vmm plugin: it has no vmm_plugin_entry function")
    }

    /// The plugin reports an interface version one above vmm's, as one built against a newer VMMKit
    /// would, and registers nothing.
    func testPluginOfAnotherInterfaceVersionIsRefusedNamingBoth() throws {
        let path = try cLibrary("newer", """
            #include <stdint.h>
            uint32_t vmm_plugin_entry(uint32_t host_version, void *registrar) { (void)registrar; return host_version + 1; }
            """)
        let result = try EndToEnd.vmm(["--plugin", path, "--list-devices"], timeout: 30)
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.standardOutput, "")
        let pattern = try NSRegularExpression(pattern:
            "^vmm: plugin '\(NSRegularExpression.escapedPattern(for: path))' was built for VMMKit plugin interface ([0-9]+), but this vmm has interface ([0-9]+)\n$")
        let text = result.standardError
        let match = try XCTUnwrap(pattern.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), text)
        let versions = (1...2).map { Int(text[Range(match.range(at: $0), in: text)!])! }
        XCTAssertEqual(versions[0], versions[1] + 1, text)
    }

    /// A plugin with VMMKit compiled into it (a static module, as a plain SwiftPM dependency would
    /// give it) has its own `PluginRegistrar` type, so the entry point's check of vmm's registrar
    /// fails, and vmm refuses it rather than mixing two copies of VMMKit's types.
    func testPluginCarryingItsOwnVMMKitIsRefused() throws {
        let path = try swiftPlugin("separate", vmmKit: ["-static", "-o", directory + "/libVMMKit.a"],
                                   linking: [directory + "/libVMMKit.a"])
        try assertRefused(path, "vmm: plugin '\(path)' does not use this vmm's VMMKit (link it with VMMKit's dynamic "
                          + "library product, and load it into a vmm linked with --export-dynamic)")
    }

    /// A plugin built against a VMMKit with one more public function, under the same interface
    /// version: glibc binds that function to the plugin's own libVMMKit.so, as vmm lacks it, and
    /// without a check the plugin would run on two copies of VMMKit at once.
    func testPluginNeedingVMMKitNamesThisVMMLacksIsRefused() throws {
        let extra = directory + "/Extra.swift"
        try "public func functionThisVMMLacks() -> Int { 42 }\n".write(toFile: extra, atomically: true, encoding: .utf8)
        let path = try swiftPlugin("newer", vmmKit: ["-o", directory + "/libVMMKit.so", extra],
                                   linking: ["-L", directory, "-lVMMKit", "-Xlinker", "-rpath", "-Xlinker", directory],
                                   calling: "_ in _ = functionThisVMMLacks()")
        try assertRefused(path, "vmm: plugin '\(path)' was built against a different VMMKit than this vmm's: it needs "
                          + "$s6VMMKit20functionThisVMMLacksSiyF, which this vmm lacks (rebuild the plugin against this vmm's VMMKit)")
    }

    private func assertRefused(_ plugin: String, _ message: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try EndToEnd.vmm(["--plugin", plugin, "--list-devices"], timeout: 30)
        XCTAssertEqual(result.status, 2, file: file, line: line)
        XCTAssertEqual(result.standardError, message + "\n", file: file, line: line)
        XCTAssertEqual(result.standardOutput, "", file: file, line: line)
    }

    /// DIRECTORY/libNAME.so: an entry point whose registration closure runs `body`, built against
    /// vmm's VMMKit sources compiled by `swiftc` with `vmmKit` (the options saying what to build)
    /// and linked with `linking`.
    private func swiftPlugin(_ name: String, vmmKit: [String], linking: [String], calling body: String = "_ = $0") throws -> String {
        let root = GuestKernels.repositoryRoot + "/Sources/VMMKit"
        let sources = try FileManager.default.subpathsOfDirectory(atPath: root).filter { $0.hasSuffix(".swift") }
            .map { root + "/" + $0 }
        let common = ["-parse-as-library", "-swift-version", "5"]
        try run("swiftc", common + ["-module-name", "VMMKit", "-emit-module", "-emit-module-path", directory + "/VMMKit.swiftmodule",
                                    "-emit-library"] + vmmKit + sources)
        let entry = directory + "/\(name).swift"
        try """
            import VMMKit
            @_cdecl("vmm_plugin_entry")
            public func vmmPluginEntry(hostVersion: UInt32, registrar: UnsafeMutableRawPointer) -> UInt32 {
                PluginInterface.enter(hostVersion: hostVersion, registrar: registrar) { \(body) }
            }
            """.write(toFile: entry, atomically: true, encoding: .utf8)
        let path = directory + "/lib\(name).so"
        try run("swiftc", common + ["-emit-library", "-I", directory, "-o", path, entry] + linking)
        return path
    }

    /// `cc -shared` of `source` into DIRECTORY/libNAME.so.
    private func cLibrary(_ name: String, _ source: String) throws -> String {
        let sourcePath = directory + "/\(name).c"
        try source.write(toFile: sourcePath, atomically: true, encoding: .utf8)
        let path = directory + "/lib\(name).so"
        try run("cc", ["-shared", "-fPIC", "-o", path, sourcePath])
        return path
    }

    private func run(_ tool: String, _ arguments: [String]) throws {
        let result = HostProcess.run(tool, arguments, timeout: 600)
        XCTAssertFalse(result.timedOut, "\(tool) outlived its watchdog")
        guard result.status == 0 else { throw ToolFailure(tool: tool, output: result.standardOutput + result.standardError) }
    }

    private struct ToolFailure: Error, CustomStringConvertible {
        let tool: String
        let output: String
        var description: String { "\(tool) failed building a test plugin:\n\(output)" }
    }
}
