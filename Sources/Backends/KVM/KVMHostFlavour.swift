#if canImport(Glibc)
import Glibc
#endif

/// How this host's KVM runs guests: on VT-x/AMD-V, or as PVM (Linux's kvm_pvm module), which runs
/// guest user mode natively but interprets every guest supervisor-mode instruction in KVM's emulator.
enum KVMHostFlavour: Equatable {
    case hardware(extension: String)
    case pvm(reason: String)

    static func detect() -> KVMHostFlavour {
        if access("/sys/module/kvm_pvm", F_OK) == 0 { return .pvm(reason: "the kvm_pvm module is loaded") }
        let flags = cpuFlags()
        if flags.contains("vmx") { return .hardware(extension: "Intel VT-x") }
        if flags.contains("svm") { return .hardware(extension: "AMD-V") }
        return .pvm(reason: "the host CPU offers neither VT-x (vmx) nor AMD-V (svm)")
    }

    /// The words of the first "flags" line of /proc/cpuinfo.
    private static func cpuFlags() -> Set<Substring> {
        guard let text = readSmallFile("/proc/cpuinfo") else { return [] }
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            return Set(line[line.index(after: colon)...].split(separator: " "))
        }
        return []
    }

    private static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16384)
        while bytes.count < 1 << 22 {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes.append(contentsOf: chunk[0..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
