import Foundation

/// qemu-system-x86_64 as a reference machine: the same guests must behave the same there.
public enum QEMU {
    /// The qemu-system-x86_64 found in PATH, or nil (tests then skip).
    public static var executable: String? {
        let directories = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        return directories.map { "\($0)/qemu-system-x86_64" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Boots `elfPath` with -kernel (Multiboot or PVH), COM1 on standard output and the debug-exit
    /// device at port 0xf4, so the guest's exit(code) becomes status (code << 1) | 1. A triple
    /// fault ends QEMU with status 0 (-no-reboot). Status 127 when QEMU is missing.
    public static func runKernel(_ elfPath: String, append: String = "", timeout: Double = 60, accel: String = "tcg",
                                 extraArguments: [String] = []) -> ProcessResult {
        guard let executable else {
            return ProcessResult(standardOutput: "", standardError: "qemu-system-x86_64 not found", status: 127,
                                 timedOut: false)
        }
        return HostProcess.run(executable, kernelArguments(elfPath, append: append, accel: accel) + extraArguments,
                               timeout: timeout)
    }

    /// The arguments `runKernel` gives QEMU, for callers that run it their own way (feeding input).
    public static func kernelArguments(_ elfPath: String, append: String = "", accel: String = "tcg") -> [String] {
        var arguments = ["-accel", accel, "-kernel", elfPath, "-nographic", "-serial", "stdio", "-monitor", "none",
                         "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot", "-m", "512",
                         "-net", "none"]
        if !append.isEmpty { arguments += ["-append", append] }
        return arguments
    }
}
