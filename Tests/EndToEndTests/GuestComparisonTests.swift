import TestSupport
import XCTest

/// The test guests on `vmm --backend kvm`, checked against their own verdict (PASS, status 1) and
/// against QEMU running the same ELF under TCG and under KVM.
final class GuestComparisonTests: XCTestCase {
    /// A guest, the status it should end with under vmm, and the status QEMU gives the same end.
    private struct Expectation {
        let guest: String
        /// The kernel command line, for both vmm and QEMU.
        var append = ""
        var vmmStatus: Int32 = 1
        /// QEMU with -no-reboot ends a triple fault with status 0 where vmm reports 4.
        var qemuStatus: Int32 = 1
        /// Compute-bound guests: small sizes keep them quick even where supervisor-mode code is
        /// emulated (PVM), but if they still cannot finish there, that is the host's limitation.
        var computeBound = false
        /// The vmm backend under test.
        var backend = "kvm"
    }

    func testHelloMultiboot32() throws { try check(Expectation(guest: "hello")) }
    func testHelloMultiboot64() throws { try check(Expectation(guest: "hello64")) }
    func testHelloPVH() throws { try check(Expectation(guest: "pvh64")) }
    /// x87 floating point (a -mfpmath=387 guest) on the Soft CPU, whose data instructions run on
    /// the host's x87: IEEE-exact results checked by the guest and compared with QEMU's.
    func testX87MathOnTheSoftCPU() throws { try check(Expectation(guest: "x87math", backend: "soft")) }
    func testTripleFault() throws { try check(Expectation(guest: "triplefault", vmmStatus: 4, qemuStatus: 0)) }
    func testCommandLineReachesGuest() throws {
        let result = try runOnKVM("hello", ["--append", "console=ttyS0 answer=42"])
        XCTAssertEqual(result.status, 1, result.standardError)
        let expected = "cmdline: \(try GuestKernels.path("hello")) console=ttyS0 answer=42\n"
        XCTAssertTrue(result.standardOutput.contains(expected), result.standardOutput)
    }
    /// A Multiboot kernel linked at 64 KiB, over vmm's standard boot information area: vmm puts its
    /// boot structures elsewhere (`BootLayout.choose`) and the guest runs as under QEMU TCG.
    func testMultibootKernelLinkedInConventionalMemory() throws {
        try InterruptGuests.checkAgainstQEMU(InterruptGuests.Run(guest: "lowload", append: "answer=42"))
    }
    func testMemcpy() throws { try check(Expectation(guest: "memcpy", append: "n=65536", computeBound: true)) }
    func testCRC32() throws { try check(Expectation(guest: "crc32", append: "n=16384", computeBound: true)) }
    func testSieve() throws { try check(Expectation(guest: "sieve", append: "n=20000", computeBound: true)) }

    /// vmm's test device exists only in vmm: these guests are checked against their own verdict.
    func testPortIOWithTestDevice() throws {
        let result = try runOnKVM("portio", ["--device", "test-device"])
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.hasSuffix("PASS\n"), result.standardOutput)
    }

    func testMMIOWithTestDevice() throws {
        let result = try runOnKVM("mmio", ["--device", "test-device"])
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.hasSuffix("PASS\n"), result.standardOutput)
    }

    func testStandardInputReachesTheGuest() throws {
        try EndToEnd.requireKVM()
        let result = HostProcess.run(try VMMBinary.path(), ["--backend", "kvm", try GuestKernels.path("serialecho")],
                                     timeout: EndToEnd.guestTimeout, standardInput: "hello, uart\n")
        XCTAssertFalse(result.timedOut)
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("serialecho: HELLO, UART\n"), result.standardOutput)
    }

    func testSerialToFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-serial-\(getpid()).log").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let result = try runOnKVM("hello", ["--serial", "file:\(path)"])
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.standardOutput, "")
        XCTAssertTrue(try String(contentsOfFile: path, encoding: .utf8).hasSuffix("PASS\n"))
    }

    func testTimeoutStopsTheGuest() throws {
        try EndToEnd.requireKVM()
        let result = try EndToEnd.vmm(["--backend", "kvm", "--serial", "none", "--timeout", "0.5",
                                        try GuestKernels.path("sieve")])
        // On fast KVM the sieve may finish first; either way the run ended by itself.
        XCTAssertTrue([124, 1].contains(result.status), "status \(result.status): \(result.standardError)")
        if result.status == 124 { XCTAssertTrue(result.standardError.contains("timeout"), result.standardError) }
    }

    func testStatisticsGoToStandardError() throws {
        let result = try runOnKVM("hello", ["--stats"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("port I/O"), result.standardError)
        XCTAssertTrue(result.standardError.contains("ran for"), result.standardError)
        XCTAssertFalse(result.standardOutput.contains("port I/O"))
    }

    /// `--stats` per reason, per vCPU and per device; `--stats-file` the same figures as JSON.
    func testStatisticsByVCPUAndDeviceAndAsJSON() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-stats-\(getpid()).json").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try EndToEnd.vmm(["--backend", "soft", "--cpus", "2", "--stats", "--stats-file", file,
                                       try GuestKernels.path("smp")], timeout: EndToEnd.guestTimeout)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("vCPU 0  vCPU 1"), result.standardError)
        XCTAssertTrue(result.standardError.contains("port I/O by device"), result.standardError)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any]
        XCTAssertEqual(json?["vcpus"] as? Int, 2)
        let exits = json?["exits"] as? [String: [String: Any]]
        XCTAssertEqual((exits?["port I/O"]?["per_vcpu"] as? [Int])?.count, 2)
        let devices = json?["port_io_by_device"] as? [String: [String: Any]]
        XCTAssertGreaterThan(devices?["COM1"]?["total"] as? Int ?? 0, 0, "COM1 carried the guest's output")
        let bad = try EndToEnd.vmm(["--stats-file", "/nonexistent/dir/s.json", try GuestKernels.path("hello")], timeout: 30)
        XCTAssertEqual(bad.status, 2, bad.standardError)
    }

    // MARK: Helpers

    private func runOnKVM(_ guest: String, _ arguments: [String], timeout: Double = EndToEnd.guestTimeout) throws
        -> ProcessResult
    {
        try EndToEnd.requireKVM()
        return try EndToEnd.vmm(["--backend", "kvm", "--memory", "512M"] + arguments + [try GuestKernels.path(guest)],
                                timeout: timeout)
    }

    private func check(_ expected: Expectation) throws {
        let kernel = try GuestKernels.path(expected.guest)
        let timeout = EndToEnd.guestTimeout
        if expected.backend == "kvm" { try EndToEnd.requireKVM() }
        let vmm = HostProcess.run(try VMMBinary.path(),
                                  ["--backend", expected.backend, "--memory", "512M", "--timeout", String(Int(timeout)),
                                   "--append", expected.append, kernel],
                                  timeout: timeout + 15)
        if expected.computeBound, vmm.status == 124, EndToEnd.isPVMHost {
            throw XCTSkip("\(expected.guest): \(EndToEnd.pvmLimitation) (stopped by vmm's \(Int(timeout))-second timeout)")
        }
        XCTAssertFalse(vmm.timedOut, "vmm outlived its watchdog")
        XCTAssertEqual(vmm.status, expected.vmmStatus, "vmm: \(vmm.standardOutput)\(vmm.standardError)")

        guard QEMU.executable != nil else { throw XCTSkip("qemu-system-x86_64 is not installed: no reference run") }
        // A Soft CPU run compares with QEMU under KVM too where this host has KVM, but not on a PVM
        // host: its instruction emulator, which runs the guest's supervisor-mode code, has no x87
        // ("KVM internal error"), so only TCG is the reference there.
        let kvmUsable = expected.backend == "kvm" || ((try? EndToEnd.requireKVM()) != nil && !EndToEnd.isPVMHost)
        if !kvmUsable { print("\(expected.guest): compared with QEMU TCG only (no usable KVM for QEMU here)") }
        for accel in ["tcg"] + (kvmUsable ? ["kvm"] : []) {
            let qemu = QEMU.runKernel(kernel, append: expected.append, timeout: 120, accel: accel)
            XCTAssertFalse(qemu.timedOut, "QEMU (\(accel)) outlived its watchdog")
            XCTAssertEqual(qemu.status, expected.qemuStatus, "QEMU (\(accel)): \(qemu.standardOutput)\(qemu.standardError)")
            let firstLine = vmm.standardOutput.split(separator: "\n").first ?? ""
            let qemuGuest = EndToEnd.guestOutput(ofQEMU: qemu.standardOutput, startingWith: firstLine)
            XCTAssertEqual(EndToEnd.maskingLoaderDetails(vmm.standardOutput), EndToEnd.maskingLoaderDetails(qemuGuest),
                           "serial output of vmm and QEMU (\(accel)) differ")
        }
    }
}
