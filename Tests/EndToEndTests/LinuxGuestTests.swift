import Foundation
import TestSupport
import XCTest

/// A real, big guest: Debian's cloud kernel (linux-image-cloud-amd64) with a busybox initramfs, as
/// `scripts/linux-guest` builds them from Debian's packages. vmm boots the kernel through its PVH
/// entry (the ELF inside the vmlinuz) and as Debian ships it (the bzImage, by the Linux boot
/// protocol, decompressing itself in the guest); its init prints a few lines from userspace (after forks, execs, pipes and page faults) and
/// ends the run through the debug-exit port. The same files boot under QEMU for comparison.
final class LinuxGuestTests: XCTestCase {
    /// No `tsc=reliable`: on Soft Linux takes vmm's kvm-clock by itself, which its clocksource
    /// watchdog does not second-guess (a debug build on a loaded host takes timer ticks late, and
    /// the watchdog used to declare the TSC unstable then).
    static let commandLine = "console=ttyS0 panic=-1"

    struct LinuxGuest {
        /// The ELF kernel, booted through its PVH entry note.
        let kernel: String
        /// The same kernel as Debian's vmlinuz, a bzImage.
        let bzImage: String
        let initrd: String
        /// The initramfs's busybox, which scripts/linux-guest leaves beside the kernel.
        var busybox: String { URL(fileURLWithPath: kernel).deletingLastPathComponent().appendingPathComponent("busybox").path }
    }

    /// Built once per test process; a failure (no Debian archive reachable, say) is kept as the
    /// reason to skip.
    static let guest: Result<LinuxGuest, TestSupportError> = {
        let script = GuestKernels.repositoryRoot + "/scripts/linux-guest"
        let result = HostProcess.run(script, [], timeout: 600)
        let paths = result.standardOutput.split(separator: "\n").map(String.init)
        guard result.status == 0, !result.timedOut, paths.count == 3 else {
            return .failure(.guestBuildFailed("scripts/linux-guest: " + result.standardError
                + " (status \(result.status)\(result.timedOut ? ", timed out" : ""))"))
        }
        return .success(LinuxGuest(kernel: paths[0], bzImage: paths[1], initrd: paths[2]))
    }()

    /// The guest, or a skip saying why it could not be built.
    static func builtGuest() throws -> LinuxGuest {
        switch guest {
        case let .success(guest): return guest
        case let .failure(error): throw XCTSkip("the Linux guest could not be built here: \(error)")
        }
    }

    /// The lines init prints, with the memory size masked (vmm and QEMU's firmware reserve
    /// different amounts). Linux's console ends lines with CR LF, one Character in Swift.
    func initLines(_ output: String) -> [String] {
        output.split(whereSeparator: \.isNewline).map(String.init)
            .filter { $0.hasPrefix("linux-guest:") }
            .map { $0.replacingOccurrences(of: #"cpu\(s\), \d+ kB"#, with: "cpu(s), <memory> kB", options: .regularExpression) }
    }

    func checkBoot(backend: String, cpus: Int = 1, bzImage: Bool = false, timeout: Double) throws {
        let guest = try Self.builtGuest()
        let kernel = bzImage ? guest.bzImage : guest.kernel
        let result = try EndToEnd.vmm(["--backend", backend, "--cpus", String(cpus), "--memory", "512M",
                                       "--append", Self.commandLine, "--initrd", guest.initrd,
                                       "--timeout", String(Int(timeout)), kernel],
                                      timeout: timeout + 20)
        let lines = initLines(result.standardOutput)
        let tail = result.standardOutput.split(whereSeparator: \.isNewline).suffix(30).joined(separator: "\n")
        XCTAssertEqual(result.status, 1, "init ends the run through the debug-exit port:\n\(tail)\n\(result.standardError)")
        XCTAssertTrue(lines.first?.hasPrefix("linux-guest: userspace up on ") ?? false, tail)
        XCTAssertTrue(lines.contains("linux-guest: \(cpus) cpu(s), <memory> kB"), tail)
        XCTAssertTrue(lines.contains("linux-guest: PASS"), tail)
        if backend == "soft" {
            // The Soft CPU's KVM clock (cpuid.rst, msr.rst): Linux finds it, registers it, and takes
            // the TSC's exact rate from it instead of calibrating against the PIT.
            XCTAssertTrue(result.standardOutput.contains("kvm-clock: Using msrs 4b564d01 and 4b564d00"), tail)
            XCTAssertTrue(result.standardOutput.contains("tsc: Detected 1000.000 MHz processor"), tail)
            // ... and uses it: the TSC is not advertised invariant, so kvm-clock keeps its rating.
            XCTAssertTrue(result.standardOutput.contains("linux-clocksource: kvm-clock"), tail)
        }
        guard QEMU.executable != nil else { return }
        let reference = QEMU.runKernel(kernel, append: Self.commandLine, timeout: 300,
                                       extraArguments: ["-initrd", guest.initrd, "-smp", String(cpus)])
        XCTAssertEqual(reference.status, 1, "QEMU TCG: " + reference.standardOutput.suffix(2000))
        XCTAssertEqual(lines, initLines(reference.standardOutput), "vmm and QEMU TCG print the same from userspace")
    }

    /// On this PVM host the Soft backend is the way to run Linux: it boots in about 6 s with a
    /// release build (about 70 s in the debug build the tests use).
    func testLinuxBootsToUserspaceOnSoft() throws {
        try checkBoot(backend: "soft", timeout: 450)
    }

    /// Debian's vmlinuz as shipped: the setup header read, boot_params filled, the 64-bit entry
    /// taken, and the kernel's decompressor run by the guest CPU.
    func testBzImageBootsToUserspaceOnSoft() throws {
        try checkBoot(backend: "soft", bzImage: true, timeout: 450)
    }

    /// Two vCPUs: Linux finds the second in the ACPI MADT, starts it with INIT and SIPI, and runs
    /// userspace on both.
    func testLinuxBootsWithTwoCPUsOnSoft() throws {
        try checkBoot(backend: "soft", cpus: 2, timeout: 450)
    }

    /// The init with vmm.reboot=1: its first boot runs `reboot -f`, which Linux does through the
    /// FADT's reset register; vmm reboots the machine and the second boot, finding the count in
    /// CMOS RAM, powers off. Two boots of a debug build: a generous watchdog.
    func runRebootGuest(backend: String, append: String = "", _ options: [String]) throws -> (ProcessResult, [String]) {
        let guest = try Self.builtGuest()
        let timeout = 900.0
        let commandLine = Self.commandLine + " vmm.reboot=1" + (append.isEmpty ? "" : " " + append)
        let result = try EndToEnd.vmm(["--backend", backend, "--memory", "512M", "--append", commandLine,
                                       "--initrd", guest.initrd, "--timeout", String(Int(timeout))] + options + [guest.kernel],
                                      timeout: timeout + 20)
        return (result, initLines(result.standardOutput))
    }

    func checkRebootThenPowerOff(backend: String, cpus: Int = 1, append: String = "") throws {
        let (result, lines) = try runRebootGuest(backend: backend, append: append, ["--stats", "--cpus", String(cpus)])
        let tail = result.standardOutput.split(whereSeparator: \.isNewline).suffix(40).joined(separator: "\n")
        XCTAssertEqual(result.status, 0, "the second boot powers off:\n\(tail)\n\(result.standardError)")
        XCTAssertEqual(lines.filter { $0.hasPrefix("linux-guest: boot") || $0.hasPrefix("linux-guest: powering") },
                       ["linux-guest: boot 1", "linux-guest: boot 2", "linux-guest: powering off after 2 boots"], tail)
        XCTAssertEqual(lines.filter { $0 == "linux-guest: PASS" }.count, 2, "userspace works on both boots")
        XCTAssertEqual(lines.filter { $0 == "linux-guest: \(cpus) cpu(s), <memory> kB" }.count, 2, "every CPU on both boots")
        XCTAssertTrue(result.standardError.contains("rebooted 1 time(s)"), result.standardError)
        XCTAssertTrue(result.standardOutput.contains("serio: i8042 KBD port at 0x60,0x64 irq 1"),
                      "Linux's i8042 driver finds the keyboard controller")
        for trouble in ["Oops", "general protection fault", "BUG:"] {
            XCTAssertFalse(result.standardOutput.contains(trouble), "\(trouble) in the guest's log:\n\(tail)")
        }
    }

    func testRebootThenPowerOffOnSoft() throws {
        try checkRebootThenPowerOff(backend: "soft")
    }

    /// `reboot=k`: Linux pulses the reset line through the keyboard controller (0xFE to port 0x64).
    func testRebootThroughTheKeyboardControllerOnSoft() throws {
        try checkRebootThenPowerOff(backend: "soft", append: "reboot=k")
    }

    /// The application processor is started again (INIT, SIPI) on the second boot.
    func testRebootWithTwoCPUsOnSoft() throws {
        try checkRebootThenPowerOff(backend: "soft", cpus: 2)
    }

    /// A virtio device across the reboot: the machine's reset resets the transport, and the second
    /// boot's driver finds and uses it as the first did.
    func testRebootWithVirtioRNGOnSoft() throws {
        let (result, lines) = try runRebootGuest(backend: "soft", append: "linux-guest.test=hwrng", ["--device", "virtio-rng"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertEqual(lines.filter { $0 == "linux-guest: hwrng virtio_rng.0 gave 4096 bytes" }.count, 2, "\(lines)")
        XCTAssertTrue(lines.contains("linux-guest: powering off after 2 boots"), "\(lines)")
    }

    func testRebootThenPowerOffOnKVM() throws {
        try EndToEnd.requireKVM()
        if EndToEnd.isPVMHost { throw XCTSkip(EndToEnd.pvmLimitation) }
        try checkRebootThenPowerOff(backend: "kvm")
    }

    /// With --no-reboot Linux's `reboot -f` ends the run, as under QEMU's -no-reboot.
    func testNoRebootEndsTheRunAtLinuxsRebootOnSoft() throws {
        let (result, lines) = try runRebootGuest(backend: "soft", ["--no-reboot"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(lines.contains("linux-guest: boot 1"), result.standardOutput.suffix(3000).description)
        XCTAssertFalse(lines.contains("linux-guest: boot 2"))
        XCTAssertTrue(result.standardError.hasSuffix("vmm: the guest requested a reset; stopping\n"), result.standardError)
    }

    /// On a VT-x/AMD-V host the same guest on KVM; on PVM the kernel's supervisor code would run in
    /// KVM's instruction emulator, far too slowly.
    func testLinuxBootsToUserspaceOnKVM() throws {
        try EndToEnd.requireKVM()
        if EndToEnd.isPVMHost { throw XCTSkip(EndToEnd.pvmLimitation) }
        try checkBoot(backend: "kvm", timeout: 120)
    }

    func testBzImageBootsToUserspaceOnKVM() throws {
        try EndToEnd.requireKVM()
        if EndToEnd.isPVMHost { throw XCTSkip(EndToEnd.pvmLimitation) }
        try checkBoot(backend: "kvm", bzImage: true, timeout: 120)
    }
}
