import Foundation
import TestSupport
import XCTest

/// `--plugin` libraries vmm must refuse, each with one line and exit status 2. The libraries are
/// made here: small C ones with the C compiler, and Swift ones built with `swiftc` against a copy of
/// VMMKit's sources that is not vmm's (compiled into the plugin, or newer than vmm's).
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

    /// A C library answering with a version no vmm has, whatever vmm asks.
    func testPluginOfAnotherInterfaceVersionIsRefusedNamingBoth() throws {
        let path = try cLibrary("other", """
            #include <stdint.h>
            uint32_t vmm_plugin_entry(uint32_t host_version, void *registrar) { (void)host_version; (void)registrar; return 4000000000u; }
            """)
        try assertRefused(path, "vmm: plugin '\(path)' was built for VMMKit plugin interface 4000000000, "
                          + "but this vmm has interface \(try Self.interfaceVersion())")
    }

    /// A plugin built against a newer VMMKit, as a user would get it: the interface version bumped
    /// and a function vmm lacks, which binds to the plugin's own libVMMKit.so. The version is what
    /// vmm reports.
    func testPluginBuiltAgainstANewerVMMKitIsRefusedNamingBothVersions() throws {
        let version = try Self.interfaceVersion()
        let path = try swiftPlugin("newer", vmmKit: .sharedLibrary, versionBump: 1,
                                   declaring: "public func functionThisVMMLacks() -> Int { 42 }",
                                   calling: "_ in _ = functionThisVMMLacks()")
        try assertRefused(path, "vmm: plugin '\(path)' was built for VMMKit plugin interface \(version + 1), "
                          + "but this vmm has interface \(version)")
    }

    /// A plugin with VMMKit compiled into it (a static module, as a plain SwiftPM dependency would
    /// give it) has its own `PluginRegistrar` type, so the entry point's check of vmm's registrar
    /// fails, and vmm refuses it rather than mixing two copies of VMMKit's types.
    func testPluginCarryingItsOwnVMMKitIsRefused() throws {
        let path = try swiftPlugin("separate", vmmKit: .inside)
        try assertRefused(path, "vmm: plugin '\(path)' does not use this vmm's VMMKit (link it with VMMKit's dynamic "
                          + "library product, and load it into a vmm linked with --export-dynamic)")
    }

    /// A plugin built against a VMMKit with one more public function, under the same interface
    /// version: glibc binds that function to the plugin's own libVMMKit.so, as vmm lacks it, and
    /// without a check the plugin would run on two copies of VMMKit at once.
    func testPluginNeedingVMMKitNamesThisVMMLacksIsRefused() throws {
        let path = try swiftPlugin("unbumped", vmmKit: .sharedLibrary,
                                   declaring: "public func functionThisVMMLacks() -> Int { 42 }",
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

    private static let vmmKitSources = GuestKernels.repositoryRoot + "/Sources/VMMKit"
    private static let versionDeclaration = try! NSRegularExpression(pattern: "public static var version: UInt32 \\{ ([0-9]+) \\}")

    /// The plugin-interface version in VMMKit's source, which vmm was built from.
    private static func interfaceVersion() throws -> Int {
        let source = try String(contentsOfFile: vmmKitSources + "/Registry/PluginInterface.swift", encoding: .utf8)
        let match = try XCTUnwrap(versionDeclaration.firstMatch(in: source, range: NSRange(source.startIndex..., in: source)))
        return try XCTUnwrap(Int(source[Range(match.range(at: 1), in: source)!]))
    }

    /// How a test plugin gets its VMMKit: compiled into it as a static module, or as a shared library
    /// beside it (what SwiftPM's dynamic product gives).
    private enum VMMKitBuild { case inside, sharedLibrary }

    /// DIRECTORY/libNAME.so: an entry point whose registration closure is `body`, built with `swiftc`
    /// against a copy of vmm's VMMKit sources, its interface version raised by `versionBump` and
    /// `declaration` added.
    private func swiftPlugin(_ name: String, vmmKit: VMMKitBuild, versionBump: Int = 0, declaring declaration: String = "",
                             calling body: String = "_ in") throws -> String {
        let sources = directory + "/VMMKit"
        try FileManager.default.copyItem(atPath: Self.vmmKitSources, toPath: sources)
        let interface = sources + "/Registry/PluginInterface.swift"
        let text = try String(contentsOfFile: interface, encoding: .utf8)
        let bumped = Self.versionDeclaration.stringByReplacingMatches(
            in: text, range: NSRange(text.startIndex..., in: text),
            withTemplate: "public static var version: UInt32 { \(try Self.interfaceVersion() + versionBump) }")
        try bumped.write(toFile: interface, atomically: true, encoding: .utf8)
        try declaration.write(toFile: sources + "/Added.swift", atomically: true, encoding: .utf8)
        let files = try FileManager.default.subpathsOfDirectory(atPath: sources).filter { $0.hasSuffix(".swift") }
            .map { sources + "/" + $0 }
        let common = ["-parse-as-library", "-swift-version", "5", "-I", try cModuleMaps()]
        let library: (build: [String], link: [String])
        switch vmmKit {
        case .inside:
            library = (["-static", "-o", directory + "/libVMMKit.a"], [directory + "/libVMMKit.a"])
        case .sharedLibrary:
            library = (["-o", directory + "/libVMMKit.so"],
                       ["-L", directory, "-lVMMKit", "-Xlinker", "-rpath", "-Xlinker", directory])
        }
        try run("swiftc", common + ["-module-name", "VMMKit", "-emit-module", "-emit-module-path",
                                    directory + "/VMMKit.swiftmodule", "-emit-library"] + library.build + files)
        let entry = directory + "/\(name).swift"
        try """
            import VMMKit
            @_cdecl("vmm_plugin_entry")
            public func vmmPluginEntry(hostVersion: UInt32, registrar: UnsafeMutableRawPointer) -> UInt32 {
                PluginInterface.enter(hostVersion: hostVersion, registrar: registrar) { \(body) }
            }
            """.write(toFile: entry, atomically: true, encoding: .utf8)
        let path = directory + "/lib\(name).so"
        try run("swiftc", common + ["-emit-library", "-I", directory, "-o", path, entry] + library.link)
        return path
    }

    /// A folder of module maps for the C modules VMMKit imports (SwiftPM makes them for vmm's own
    /// build), so `swiftc` finds them for the copy of VMMKit too.
    private func cModuleMaps() throws -> String {
        let folder = directory + "/cmodules"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var maps = ""
        for module in Self.vmmKitCModules {
            let header = GuestKernels.repositoryRoot + "/Sources/CShims/\(module)/include/\(module).h"
            maps += "module \(module) {\n    header \"\(header)\"\n    export *\n}\n"
        }
        try maps.write(toFile: folder + "/module.modulemap", atomically: true, encoding: .utf8)
        return folder
    }

    /// VMMKit's C dependencies in Package.swift.
    private static let vmmKitCModules = ["CEventFD", "CMemFD"]

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
