import Foundation

/// The `vmm` executable SwiftPM built beside the test bundle (.build/<triple>/<config>/).
public enum VMMBinary {
    public static func path() throws -> String {
        // On Linux the test bundle is an executable, .build/<...>/<config>/<Package>PackageTests.xctest.
        let running = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let bundle = URL(fileURLWithPath: running).resolvingSymlinksInPath()
        let candidate = bundle.deletingLastPathComponent().appendingPathComponent("vmm").path
        guard FileManager.default.isExecutableFile(atPath: candidate) else {
            throw TestSupportError.vmmNotBuilt(expected: candidate)
        }
        return candidate
    }
}
