#if canImport(Glibc)
import Glibc
#endif
import KernelLoading
import VMMKit

/// The kernel loaders against hostile files: ELF (through libelf), Multiboot headers and info, the
/// PVH note, the bzImage setup header, and initrd/module placement. For every input the loader
/// must return a loaded kernel or a typed error, never trap; a rejected file must leave guest
/// memory untouched (the loader checks everything before it writes); a loaded one must enter
/// inside its image. `check` returns the broken invariant, if any.
public final class LoaderFuzzTarget {
    public static let memorySize: UInt64 = 16 << 20
    private let directory: String
    private let kernelPath: String
    private let modulePath: String
    public private(set) var loaded = 0
    public private(set) var rejected = 0

    public init() throws {
        var template = Array("/tmp/vmm-fuzz-XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else { throw FuzzSetupError("cannot make a temporary directory") }
        directory = String(cString: made)
        kernelPath = directory + "/kernel"
        modulePath = directory + "/module"
        try Self.writeFile(modulePath, Array(repeating: 0x5a, count: 3000))
    }

    deinit {
        unlink(kernelPath)
        unlink(modulePath)
        rmdir(directory)
    }

    /// Loads `bytes` as a kernel, with a module on odd-length inputs, and returns the broken invariant.
    public func check(_ bytes: [UInt8]) -> String? {
        do {
            try Self.writeFile(kernelPath, bytes)
            let machine = try Machine(memorySize: Self.memorySize, vcpuCount: 1)
            let modules = bytes.count & 1 == 1 ? [modulePath] : []
            do {
                let kernel = try KernelLoader.load(kernelAt: kernelPath, into: machine, commandLine: "fuzz",
                                                   modules: modules)
                loaded += 1
                guard kernel.bootState.general.rip == kernel.entry else { return "entered away from its entry point" }
                guard machine.memory.region(containing: kernel.entry, length: 1) != nil else {
                    return "entry 0x\(String(kernel.entry, radix: 16)) is not in guest RAM"
                }
            } catch {
                rejected += 1
                if let written = Self.firstNonZeroByte(in: machine.memory) {
                    return "rejected (\(error)) after writing guest memory at 0x\(String(written, radix: 16))"
                }
            }
            return nil
        } catch {
            return "harness: \(error)"
        }
    }

    /// The seeds: the test guests given (Multiboot 32/64, PVH, plain ELF, low-loading) and bzImages
    /// with the 64-bit and the 32-bit entry, placed to fit the fuzzing machine's RAM.
    public static func seeds(guestFiles: [String]) -> [[UInt8]] {
        var bzImage = SyntheticBzImage()
        bzImage.preferredAddress = 0x20_0000
        bzImage.initSize = 0x10_0000
        var bzImage32 = bzImage
        bzImage32.xloadflags = 0
        bzImage32.relocatable = false
        return guestFiles.compactMap(readFile) + [bzImage.bytes, bzImage32.bytes]
    }

    /// Offsets worth aiming at in the seeds: the ELF header and program headers, the Multiboot
    /// header fields, the Linux setup header.
    public static func fieldOffsets(of bytes: [UInt8]) -> [Int] {
        var offsets = Array(stride(from: 0x10, to: 0x40, by: 2))             // ELF header
        if bytes.count > 0x40 {
            let programHeaders = Int(bytes[0x20]) | Int(bytes[0x21]) << 8
            offsets += (0..<4 * 0x38).map { programHeaders + $0 }.filter { $0 < bytes.count }
        }
        offsets += Array(0x1f1..<0x270)                                        // Linux setup header
        let magic: [UInt8] = [0x02, 0xb0, 0xad, 0x1b]                          // Multiboot, little-endian
        if let start = (0..<max(0, min(bytes.count, 8192) - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == magic }) {
            offsets += (start..<start + 48).filter { $0 < bytes.count }
        }
        return offsets
    }

    private static func firstNonZeroByte(in memory: GuestMemory) -> UInt64? {
        for region in memory.regions {
            guard let base = memory.hostPointer(at: region.guestBase, length: Int(region.size)) else { continue }
            let words = base.assumingMemoryBound(to: UInt64.self)
            for index in 0..<Int(region.size / 8) where words[index] != 0 {
                return region.guestBase + UInt64(index * 8)
            }
        }
        return nil
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { break }
            bytes += chunk[0..<count]
        }
        return bytes
    }

    private static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FuzzSetupError("cannot write \(path)") }
        defer { close(descriptor) }
        let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        guard written == bytes.count else { throw FuzzSetupError("short write to \(path)") }
    }
}

public struct FuzzSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
