#if canImport(Glibc)
import Glibc
#endif
import PCBoard
import HostIO
import VMMKit

/// Turns the parsed options into the machine to build, checking each value and naming the first
/// bad one.
extension VMMOptions {
    func machineDescription() throws -> MachineDescription {
        guard let kernel else { throw CommandError.missingKernel }
        try Self.requireReadable(kernel, role: "kernel")
        if let initrd { try Self.requireReadable(initrd, role: "initrd") }
        for module in modules { try Self.requireReadable(module, role: "module") }
        guard let cpuCount = Int(cpus), (1...64).contains(cpuCount) else { throw CommandError.badCPUCount(cpus) }
        guard let placement = InterruptControllerPlacement(rawValue: irqchip) else {
            throw CommandError.badIRQChip(irqchip)
        }
        var description = MachineDescription(
            kernelPath: kernel,
            memorySize: try MemorySize.parse(memory),
            cpus: cpuCount,
            commandLine: append,
            initrd: initrd,
            modules: modules,
            serial: try ConsoleEndpoint(parsing: serial),
            escape: try ConsoleInput.escape(parsing: escape),
            devices: devices + disks.map { "virtio-blk,file=" + $0 },
            interruptControllerPlacement: placement,
            timeout: try timeoutSeconds())
        description.rebootPolicy = RebootPolicy(rebootsOnReset: !noReboot, resetsOnTripleFault: rebootOnTripleFault)
        switch ParavirtualFeatures.parse(pv) {
        case let .success(features): description.paravirtual = features
        case let .failure(unknown): throw CommandError.badParavirtual(unknown.word)
        }
        return description
    }

    private func timeoutSeconds() throws(CommandError) -> Double? {
        guard let timeout else { return nil }
        guard let seconds = Double(timeout), seconds > 0, seconds.isFinite else { throw .badTimeout(timeout) }
        return seconds
    }

    /// A missing or unreadable file is the user's mistake: report it before building anything.
    private static func requireReadable(_ path: String, role: String) throws(CommandError) {
        var status = stat()
        guard stat(path, &status) == 0 else {
            throw .unreadableFile(role: role, path: path, reason: String(cString: strerror(errno)))
        }
        guard status.st_mode & S_IFMT == S_IFREG else {
            throw .unreadableFile(role: role, path: path, reason: "not a regular file")
        }
        guard access(path, R_OK) == 0 else {
            throw .unreadableFile(role: role, path: path, reason: String(cString: strerror(errno)))
        }
    }
}
