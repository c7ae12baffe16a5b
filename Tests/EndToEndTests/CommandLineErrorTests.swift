import HostIO
import TestSupport
import XCTest

/// Bad input never traps or dumps a stack: vmm prints one line "vmm: <problem>" naming what was
/// wrong and exits with status 2. None of these needs KVM: the input is rejected before any run.
final class CommandLineErrorTests: XCTestCase {
    private func expectRejection(_ arguments: [String], mentioning words: [String],
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try EndToEnd.vmm(arguments, timeout: 30)
        XCTAssertEqual(result.status, 2, "status for \(arguments): \(result.standardError)", file: file, line: line)
        XCTAssertEqual(result.standardOutput, "", file: file, line: line)
        let lines = result.standardError.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "exactly one line on stderr: \(result.standardError)", file: file, line: line)
        XCTAssertTrue(result.standardError.hasPrefix("vmm: "), result.standardError, file: file, line: line)
        for word in words {
            XCTAssertTrue(result.standardError.contains(word), "'\(word)' in: \(result.standardError)", file: file, line: line)
        }
    }

    func testMissingKernelFile() throws {
        try expectRejection(["/nonexistent/kernel.elf"], mentioning: ["/nonexistent/kernel.elf", "kernel"])
    }

    func testKernelThatIsNotELF() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("not-a-kernel-\(getpid()).txt").path
        try "just text\n".write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        try expectRejection([path], mentioning: [path, "ELF"])
    }

    /// A bzImage cut short inside its setup code (the first 4 KiB of a kernel with 30 setup sectors).
    func testTruncatedBzImage() throws {
        var header = [UInt8](repeating: 0, count: 4096)
        header[0x1f1] = 30
        header[0x1fe] = 0x55
        header[0x1ff] = 0xaa
        header[0x200] = 0xeb
        header[0x201] = 0x6a
        header.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        header[0x206] = 0x0f
        header[0x207] = 0x02
        header[0x211] = 0x01
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("truncated-vmlinuz-\(getpid())").path
        try Data(header).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        try expectRejection([path], mentioning: [path, "bzImage", "truncated"])
    }

    /// A device window over guest RAM would shadow the kernel (Soft) or never be reached (KVM).
    func testADeviceWindowInsideRAMIsRefused() throws {
        let hello = try GuestKernels.path("hello")
        for (window, memory, region) in [("0x100000", "128M", "guest RAM"), ("0x0", "128M", "guest RAM"),
                                         ("0x100000000", "5G", "guest high RAM")] {
            try expectRejection(["--memory", memory, "--device", "test-device,mmio=\(window)", hello],
                                mentioning: ["test-device", "inside \(region)"])
        }
    }

    /// The timer's line, the PIC cascade, a line COM1 already drives, and one beyond the ISA range.
    func testASerialPortOnALineTheBoardCannotGiveIsRefused() throws {
        let hello = try GuestKernels.path("hello")
        for (irq, words) in [("0", ["IRQ 0", "i8254"]), ("2", ["IRQ 2", "cascade"]), ("4", ["IRQ 4", "COM1"]),
                             ("16", ["16", "irq"])] {
            try expectRejection(["--backend", "soft", "--device", "serial,irq=\(irq)", hello], mentioning: words)
        }
    }

    /// One line, not the backend notice and then the error.
    func testInKernelControllersOnTheSoftBackend() throws {
        try expectRejection(["--backend", "soft", "--irqchip", "kernel", try GuestKernels.path("hello")],
                            mentioning: ["soft backend", "in-kernel", "--irqchip user"])
    }

    /// An unknown `--pv` name, an empty list entry and an empty value are each named.
    func testUnknownParavirtualInterface() throws {
        let hello = try GuestKernels.path("hello")
        for (value, word) in [("kvmclock,warp-eoi", "'warp-eoi'"), ("pv-eoi,,pv-ipi", "''"), ("", "''"), ("All", "'All'")] {
            try expectRejection(["--pv", value, hello], mentioning: [word, "paravirtual", "pv-eoi"])
        }
    }

    func testBadMemorySize() throws {
        try expectRejection(["--memory", "12Q", try GuestKernels.path("hello")], mentioning: ["12Q", "memory"])
    }

    func testUnknownDevice() throws {
        try expectRejection(["--device", "warp-drive", try GuestKernels.path("hello")], mentioning: ["warp-drive"])
    }

    func testUnknownDeviceParameter() throws {
        try expectRejection(["--device", "test-device,colour=red", try GuestKernels.path("hello")],
                            mentioning: ["colour"])
    }

    func testUnknownBackend() throws {
        try expectRejection(["--backend", "abacus", try GuestKernels.path("hello")], mentioning: ["abacus"])
    }

    func testUnknownOption() throws {
        try expectRejection(["--frobnicate", try GuestKernels.path("hello")], mentioning: ["--frobnicate"])
    }

    func testNoKernel() throws {
        try expectRejection([], mentioning: ["KERNEL"])
    }

    func testBadConsoleEndpoint() throws {
        try expectRejection(["--serial", "tcp:4444", try GuestKernels.path("hello")], mentioning: ["tcp:4444"])
    }

    /// A kernel command line may start with '-': the word after --append is its value, not an option.
    func testAppendValueStartingWithDash() throws {
        let kernel = try GuestKernels.path("hello")
        let result = try EndToEnd.vmm(["--backend", "soft", "--append", "-s --verbose", kernel], timeout: 120)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("cmdline: \(kernel) -s --verbose\n"), result.standardOutput)
    }

    func testListingsNeedNoKernel() throws {
        let devices = try EndToEnd.vmm(["--list-devices"], timeout: 30)
        XCTAssertEqual(devices.status, 0)
        for name in ["serial", "debug-exit", "test-device", "virtio-net", "tap=NAME", "passt=SOCKET", "mac="] {
            XCTAssertTrue(devices.standardOutput.contains(name), name)
        }
        let backends = try EndToEnd.vmm(["--list-backends"], timeout: 30)
        XCTAssertEqual(backends.status, 0)
        XCTAssertTrue(backends.standardOutput.contains("kvm"), backends.standardOutput)
    }

    /// A console output whose writes fail (a full disk): reported once, and the run's status is 6
    /// (the run failed: its log is incomplete), naming the guest's own status.
    func testLostConsoleOutputIsReportedAndFailsTheRun() throws {
        let result = try EndToEnd.vmm(["--backend", "soft", "--serial", "file:/dev/full", try GuestKernels.path("hello")],
                                      timeout: 120)
        XCTAssertEqual(result.status, 6, result.standardError)
        let lines = result.standardError.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, result.standardError)
        XCTAssertTrue(lines.first?.contains("'/dev/full' failed (No space left on device)") ?? false, result.standardError)
        XCTAssertTrue(lines.last?.contains("the guest's own exit status was 1") ?? false, result.standardError)
    }
}

/// Disk images and network links vmm cannot use are refused before the guest starts, in one
/// line, status 2.
final class DiskImageRejectionTests: XCTestCase {
    private func expectRejection(_ arguments: [String], mentioning words: [String],
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        try EndToEnd.expectStartRefusal(arguments, kernel: "hello", mentioning: words, file: file, line: line)
    }

    func testMissingDirectoryAndOddSizedImages() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-disk-reject-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let missing = directory.appendingPathComponent("missing.img").path
        try expectRejection(["--disk", missing], mentioning: [missing, "No such file"])
        try expectRejection(["--device", "virtio-blk,file=\(directory.path)"], mentioning: [directory.path, "directory"])
        let odd = directory.appendingPathComponent("odd.img").path
        try Data(count: 1000).write(to: URL(fileURLWithPath: odd))
        try expectRejection(["--device", "virtio-blk,file=\(odd),readonly=on"], mentioning: [odd, "1000 bytes", "512"])
        try expectRejection(["--device", "virtio-blk"], mentioning: ["file=IMAGE"])
        try expectRejection(["--device", "virtio-blk,file=\(odd),readonly=maybe"], mentioning: ["readonly"])
    }

    func testMissingTapAbsentPasstAndBadMACAddresses() throws {
        try expectRejection(["--device", "virtio-net,tap=vmmnosuchtap0"], mentioning: ["vmmnosuchtap0", "no network interface"])
        try expectRejection(["--device", "virtio-net,tap=much-too-long-for-a-name"], mentioning: ["much-too-long-for-a-name"])
        let socket = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-no-passt-\(getpid()).socket").path
        try expectRejection(["--device", "virtio-net,passt=\(socket)"], mentioning: [socket, "passt"])
        try expectRejection(["--device", "virtio-net"], mentioning: ["tap=NAME", "passt=SOCKET"])
        try expectRejection(["--device", "virtio-net,tap=lo,passt=\(socket)"], mentioning: ["tap=NAME", "passt=SOCKET"])
        try expectRejection(["--device", "virtio-net,tap=lo,mac=52:54:00:12:34"], mentioning: ["52:54:00:12:34", "MAC"])
        try expectRejection(["--device", "virtio-net,tap=lo,mac=01:00:5e:00:00:01"], mentioning: ["01:00:5e:00:00:01", "multicast"])
    }
}
