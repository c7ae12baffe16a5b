import Foundation

/// The test guest kernels of Tests/Guests, built on first use.
public enum GuestKernels {
    /// The repository root, from this file's location: Tests/TestSupport/GuestKernels.swift.
    public static let repositoryRoot: String = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    public static var guestsDirectory: String { repositoryRoot + "/Tests/Guests" }

    /// `make -C Tests/Guests`, run once per process: a static let is initialised exactly once,
    /// even when several threads ask at the same time.
    private static let build: Result<Void, TestSupportError> = {
        let result = HostProcess.run("make", ["-s", "-C", guestsDirectory], timeout: 300)
        guard result.status == 0, !result.timedOut else {
            return .failure(.guestBuildFailed(result.standardOutput + result.standardError))
        }
        return .success(())
    }()

    /// The path of out/NAME.elf, building the guests first if this process has not yet.
    public static func path(_ name: String) throws -> String {
        try build.get()
        let path = "\(guestsDirectory)/out/\(name).elf"
        guard FileManager.default.fileExists(atPath: path) else { throw TestSupportError.noSuchGuest(name: name, path: path) }
        return path
    }
}
