#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import XCTest

/// What the end-to-end tests share: running the built `vmm`, knowing whether KVM can run here,
/// and bringing QEMU's serial output to a form comparable with vmm's.
enum EndToEnd {
    /// Every guest run gets this watchdog unless a test says otherwise.
    static let guestTimeout: Double = 60

    /// Skips unless /dev/kvm can be opened.
    static func requireKVM() throws {
        let descriptor = open("/dev/kvm", O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw XCTSkip("/dev/kvm cannot be opened (\(String(cString: strerror(errno)))): no KVM backend on this host")
        }
        close(descriptor)
    }

    /// True on a PVM-flavoured KVM host (kvm_pvm): supervisor-mode guest code runs in KVM's
    /// instruction emulator there, at a few million instructions per second.
    static var isPVMHost: Bool { FileManager.default.fileExists(atPath: "/sys/module/kvm_pvm") }

    static let pvmLimitation = "PVM host limitation: kvm_pvm runs guest supervisor-mode code in KVM's instruction "
        + "emulator (about 3M instructions/s), too slow for this guest to finish"

    /// A loopback TCP port nobody listens on now (the kernel's pick for port 0), for a vmm started
    /// a moment later to bind (`--gdb`).
    static func freeLoopbackPort() throws -> UInt16 {
        let bound = try loopbackSocket(listening: false)
        close(bound.descriptor)
        return bound.port
    }

    /// A TCP socket bound to a free loopback port, listening if asked; the caller closes it.
    static func loopbackSocket(listening: Bool) throws -> (descriptor: Int32, port: UInt16) {
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(socketFD, pointer, length) == 0 && (!listening || listen(socketFD, 1) == 0)
                    && getsockname(socketFD, pointer, &length) == 0
            }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            close(socketFD)
            throw XCTSkip("no free TCP port on 127.0.0.1: \(reason)")
        }
        return (socketFD, UInt16(bigEndian: address.sin_port))
    }

    /// A new folder under the temporary directory, named after `prefix`, this process and a UUID;
    /// the caller removes it.
    static func scratchDirectory(_ prefix: String) throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        return directory
    }

    /// Runs the vmm executable SwiftPM built beside the tests, with stdin from /dev/null.
    /// The total of `--stats` row `row` (as printed: indented, thousands separated), nil if absent.
    static func statistic(_ row: String, in standardError: String) -> Int? {
        guard let line = standardError.split(separator: "\n").first(where: { $0.hasPrefix("  " + row + " ") }) else { return nil }
        return line.dropFirst(row.count + 2).split(separator: " ").first.flatMap { Int($0.replacingOccurrences(of: ",", with: "")) }
    }

    static func vmm(_ arguments: [String], timeout: Double = guestTimeout) throws -> ProcessResult {
        let result = HostProcess.run(try VMMBinary.path(), arguments, timeout: timeout)
        XCTAssertFalse(result.timedOut, "vmm \(arguments) outlived its \(timeout)-second watchdog")
        return result
    }

    /// Runs vmm with `arguments` and `kernel` and expects a refusal at start: status 2, nothing on
    /// stdout, one line on stderr containing each of `words`.
    static func expectStartRefusal(_ arguments: [String], kernel: String, mentioning words: [String],
                                   file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try vmm(arguments + [try GuestKernels.path(kernel)], timeout: 30)
        XCTAssertEqual(result.status, 2, result.standardError, file: file, line: line)
        XCTAssertEqual(result.standardOutput, "", file: file, line: line)
        XCTAssertEqual(result.standardError.split(separator: "\n").count, 1, result.standardError, file: file, line: line)
        for word in words {
            XCTAssertTrue(result.standardError.contains(word), "'\(word)' in: \(result.standardError)", file: file, line: line)
        }
    }

    /// QEMU's serial output without what its firmware prints before the guest starts (SeaBIOS's
    /// banner and terminal escapes): everything before the guest's first line, which vmm's output
    /// starts with.
    static func guestOutput(ofQEMU output: String, startingWith firstLine: Substring) -> String {
        guard !firstLine.isEmpty, let start = output.range(of: firstLine) else { return output }
        return String(output[start.lowerBound...])
    }

    /// Masks the lines that describe the boot loader or the host rather than the guest, where vmm and
    /// QEMU legitimately differ: QEMU's firmware reserves memory (ACPI tables, more e820 entries) that
    /// vmm does not, and cycle counts are timings. The command line is compared: both pass a
    /// Multiboot kernel "PATH APPEND".
    static func maskingLoaderDetails(_ output: String) -> [String] {
        output.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            let text = line.trimmingCharacters(in: CharacterSet(charactersIn: "\r"))
            for prefix in ["mem_upper:", "start_info version", "cycles:"] where text.hasPrefix(prefix) {
                return prefix + " <loader detail>"
            }
            return text
        }
    }
}
