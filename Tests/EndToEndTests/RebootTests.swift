import TestSupport
import XCTest

/// Guest resets on the real vmm: the reboot guest resets once through each of a PC's reset paths
/// (keyboard controller, port 0xCF9, the FADT's reset register, a triple fault) and counts its
/// boots in CMOS RAM; `--no-reboot` ends the run at the first reset, as QEMU's `-no-reboot` does.
final class RebootTests: XCTestCase {
    private func run(_ backend: String, _ arguments: [String], timeout: Double = EndToEnd.guestTimeout) throws
        -> ProcessResult
    {
        try EndToEnd.vmm(["--backend", backend, "--timeout", String(Int(timeout) - 5)] + arguments
                         + [try GuestKernels.path("reboot")], timeout: timeout)
    }

    /// The guest's lines about its boots, without what QEMU's firmware prints in front of them.
    private func bootLines(_ output: String) -> [String] {
        output.split(whereSeparator: \.isNewline)
            .map { String($0.components(separatedBy: "Booting from ROM..").last ?? "") }
            .filter { $0.hasPrefix("boot ") }
    }

    private func checkEveryResetPathReboots(on backend: String) throws {
        let result = try run(backend, ["--append", "triple=1", "--reboot-on-triple-fault", "--stats"])
        if backend == "kvm", EndToEnd.isPVMHost, result.status == 124 { throw XCTSkip(EndToEnd.pvmLimitation) }
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertEqual(bootLines(result.standardOutput), ["boot 1", "boot 2", "boot 3", "boot 4", "boot 5"],
                       result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("FADT reset register: port 0xcf9, value 0x6\n"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.hasSuffix("booted 5 times\nPASS\n"), result.standardOutput)
        XCTAssertTrue(result.standardError.contains("rebooted 4 time(s)"), result.standardError)
    }

    func testEveryResetPathRebootsOnSoft() throws {
        try checkEveryResetPathReboots(on: "soft")
    }

    /// On KVM each reboot is a new VM; the guest is small enough for a PVM host, where a failure to
    /// finish would be that host's limitation (reported as a skip, never a pass).
    func testEveryResetPathRebootsOnKVM() throws {
        try EndToEnd.requireKVM()
        try checkEveryResetPathReboots(on: "kvm")
    }

    func testEveryResetPathRebootsOnKVMWithTheInKernelIRQChip() throws {
        try EndToEnd.requireKVM()
        let result = try run("kvm", ["--irqchip", "kernel"])
        if EndToEnd.isPVMHost, result.status == 124 { throw XCTSkip(EndToEnd.pvmLimitation) }
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertEqual(bootLines(result.standardOutput), ["boot 1", "boot 2", "boot 3", "boot 4"], result.standardOutput)
    }

    /// QEMU's q35 machine, whose FADT names 0xCF9 too, resets on all four paths by default, the
    /// triple fault included, and its firmware boots the kernel again each time; vmm with
    /// --reboot-on-triple-fault goes through the same boots. QEMU does not clear RAM on a reset, as
    /// a PC's warm reset does not (cleared=0: vmm's clearing is checked by the other tests).
    func testQEMUQ35RebootsTheSameWay() throws {
        let append = "triple=1 cleared=0"
        guard let qemu = QEMU.executable else { throw XCTSkip("qemu-system-x86_64 is not installed") }
        let arguments = QEMU.kernelArguments(try GuestKernels.path("reboot"), append: append).filter { $0 != "-no-reboot" }
        let reference = HostProcess.run(qemu, ["-M", "q35"] + arguments, timeout: EndToEnd.guestTimeout)
        XCTAssertEqual(reference.status, 1, "QEMU: " + reference.standardOutput + reference.standardError)
        let result = try run("soft", ["--reboot-on-triple-fault", "--append", append])
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertEqual(bootLines(result.standardOutput), bootLines(reference.standardOutput))
        XCTAssertEqual(bootLines(result.standardOutput).count, 5)
    }

    /// Two vCPUs: the application processor's thread ends with each boot and starts again waiting
    /// for SIPI.
    func testRebootWithTwoCPUsOnSoft() throws {
        let result = try run("soft", ["--cpus", "2"])
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertEqual(bootLines(result.standardOutput).count, 4, result.standardOutput)
    }

    /// Without --reboot-on-triple-fault a triple fault still ends the run with status 4 and the
    /// registers, after the three resets before it rebooted.
    func testTripleFaultEndsTheRunByDefault() throws {
        let result = try run("soft", ["--append", "triple=1"])
        XCTAssertEqual(result.status, 4, result.standardOutput + result.standardError)
        XCTAssertEqual(bootLines(result.standardOutput).last, "boot 4", result.standardOutput)
        XCTAssertTrue(result.standardError.contains("shut down (triple fault)"), result.standardError)
    }

    func testNoRebootEndsTheRunAtTheFirstReset() throws {
        let result = try run("soft", ["--no-reboot"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertEqual(bootLines(result.standardOutput), ["boot 1"], result.standardOutput)
        XCTAssertEqual(result.standardError, "vmm: the guest requested a reset; stopping\n")
    }

    /// --no-reboot with --reboot-on-triple-fault: nothing reboots, and a triple fault keeps its
    /// own report and status.
    func testNoRebootKeepsTheTripleFaultReport() throws {
        let result = try run("soft", ["--no-reboot", "--reboot-on-triple-fault", "--append", "skip=3 triple=1"])
        XCTAssertEqual(result.status, 4, result.standardError)
        XCTAssertEqual(bootLines(result.standardOutput), ["boot 1"], result.standardOutput)
        XCTAssertTrue(result.standardError.contains("shut down (triple fault)"), result.standardError)
    }

    /// A guest that resets as soon as it boots makes vmm reboot it again and again, as QEMU does
    /// (a few milliseconds a boot): nothing in the guest can stop that, and nothing needs to,
    /// since --timeout (as here), Ctrl-C and SIGTERM end the run whatever the guest does, and
    /// --no-reboot ends it at the first reset.
    func testTimeoutEndsAResetLoop() throws {
        let result = try EndToEnd.vmm(["--backend", "soft", "--timeout", "2", "--stats", "--append", "loop=1",
                                       try GuestKernels.path("reboot")])
        XCTAssertEqual(result.status, 124, result.standardError)
        XCTAssertTrue(result.standardError.contains("stopped after the 2.0-second timeout"), result.standardError)
        XCTAssertNotNil(result.standardError.range(of: #"rebooted \d+ time\(s\)"#, options: .regularExpression),
                        result.standardError)
    }

    /// SIGTERM (HostProcess's own watchdog sends it, after one second here) stops a reset loop
    /// as it stops any run: status 130.
    func testSIGTERMEndsAResetLoop() throws {
        let result = HostProcess.run(try VMMBinary.path(), ["--backend", "soft", "--append", "loop=1",
                                                            try GuestKernels.path("reboot")], timeout: 1)
        XCTAssertTrue(result.timedOut, "the guest resets for ever")
        XCTAssertEqual(result.status, 130, "vmm stopped on SIGTERM, not SIGKILL: " + result.standardError)
    }
}
