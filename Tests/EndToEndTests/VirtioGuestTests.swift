import Foundation
import TestSupport
import XCTest

/// Debian's kernel with the virtio devices, on the Soft backend: the initramfs (scripts/linux-guest)
/// loads the kernel's own virtio_pci, virtio-rng and virtio_blk modules, finds the devices on the
/// PCI bus the DSDT describes, and its init runs the checks the command line names
/// (linux-guest.test=...) or, with root=/dev/vda, hands over to the disk's own init. Disk images
/// are made with mkfs.ext4 -d and checked on the host with debugfs, which reads the image without
/// mounting it.
final class VirtioGuestTests: XCTestCase {
    /// A debug build boots Linux on Soft in a minute or more (several on a loaded host); the disk
    /// test also writes 8 MiB.
    static let watchdog: Double = 1200

    private var directory: URL!

    override func setUpWithError() throws { directory = try EndToEnd.scratchDirectory("vmm-virtio") }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// Boots with `devices` and the init checks `tests`; returns init's lines and the run.
    private func boot(devices: [String], tests: String) throws -> (lines: [String], result: ProcessResult) {
        let guest = try LinuxGuestTests.builtGuest()
        var arguments = ["--backend", "soft", "--memory", "512M"]
        for device in devices { arguments += ["--device", device] }
        arguments += ["--append", LinuxGuestTests.commandLine + " linux-guest.test=" + tests, "--initrd", guest.initrd,
                      "--timeout", String(Int(Self.watchdog - 30)), guest.kernel]
        let result = try EndToEnd.vmm(arguments, timeout: Self.watchdog)
        let lines = result.standardOutput.split(whereSeparator: \.isNewline).map(String.init)
            .filter { $0.hasPrefix("linux-guest:") }
        let tail = result.standardOutput.split(whereSeparator: \.isNewline).suffix(40).joined(separator: "\n")
        XCTAssertEqual(result.status, 1, "init ends the run through the debug-exit port:\n\(tail)\n\(result.standardError)")
        XCTAssertTrue(lines.contains("linux-guest: PASS"), tail)
        return (lines, result)
    }

    private func run(_ tool: String, _ arguments: [String]) throws -> ProcessResult {
        let result = HostProcess.run(tool, arguments, timeout: 120)
        guard result.status != 127 else { throw XCTSkip("\(tool) is not installed (scripts/install-packages.sh test)") }
        XCTAssertEqual(result.status, 0, "\(tool) \(arguments): \(result.standardError)")
        return result
    }

    /// A 64 MiB ext4 image of `tree` (a new one if none is given) with hello.txt added.
    private func makeImage(tree given: URL? = nil) throws -> String {
        let tree = given ?? directory.appendingPathComponent("tree")
        try FileManager.default.createDirectory(at: tree, withIntermediateDirectories: true)
        try "hello from the host\n".write(to: tree.appendingPathComponent("hello.txt"), atomically: true, encoding: .utf8)
        let image = directory.appendingPathComponent("disk.img").path
        _ = FileManager.default.createFile(atPath: image, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: image))
        try handle.truncate(atOffset: 64 << 20)
        try handle.close()
        _ = try run("mkfs.ext4", ["-q", "-F", "-d", tree.path, image])
        return image
    }

    private func sha256(_ path: String) throws -> String {
        String(try run("sha256sum", [path]).standardOutput.prefix(64))
    }

    func testHWRNGReadsFromVirtioRNG() throws {
        let (lines, _) = try boot(devices: ["virtio-rng"], tests: "hwrng")
        XCTAssertTrue(lines.contains("linux-guest: hwrng virtio_rng.0 gave 4096 bytes"), "\(lines)")
    }

    /// A root file system image: busybox (the initramfs's own, which scripts/linux-guest leaves
    /// beside it), Tests/Guests/linux/root-init as /sbin/init, and hello.txt.
    private func makeRootImage() throws -> String {
        let guest = try LinuxGuestTests.builtGuest()
        let tree = directory.appendingPathComponent("root")
        for folder in ["bin", "sbin", "dev", "proc", "sys", "tmp"] {
            try FileManager.default.createDirectory(at: tree.appendingPathComponent(folder), withIntermediateDirectories: true)
        }
        try FileManager.default.copyItem(atPath: guest.busybox, toPath: tree.appendingPathComponent("bin/busybox").path)
        try FileManager.default.copyItem(atPath: GuestKernels.repositoryRoot + "/Tests/Guests/linux/root-init",
                                         toPath: tree.appendingPathComponent("sbin/init").path)
        return try makeImage(tree: tree)
    }

    /// Boots Linux with `image` as its root file system (`root=/dev/vda rw`): the initramfs loads
    /// the virtio modules and switches to the image, whose init does `test` and powers off.
    private func bootFromDisk(_ image: String, test: String, backend: String) throws -> [String] {
        let guest = try LinuxGuestTests.builtGuest()
        let append = LinuxGuestTests.commandLine + " root=/dev/vda rw linux-root.test=" + test
        let result = try EndToEnd.vmm(["--backend", backend, "--memory", "512M", "--device", "virtio-blk,file=\(image),serial=vmm-root",
                                       "--append", append, "--initrd", guest.initrd,
                                       "--timeout", String(Int(Self.watchdog - 30)), guest.kernel], timeout: Self.watchdog)
        let all = result.standardOutput.split(whereSeparator: \.isNewline).map(String.init)
        let tail = all.suffix(40).joined(separator: "\n")
        XCTAssertEqual(result.status, 0, "the image's init powers the machine off:\n\(tail)\n\(result.standardError)")
        let lines = all.filter { $0.hasPrefix("linux-root:") }
        XCTAssertEqual(lines.first, "linux-root: / is /dev/vda ext4 rw", tail)
        XCTAssertEqual(lines.last, "linux-root: / remounted read-only", tail)
        return lines
    }

    /// The issue's disk test: the image boots as the root file system; its init reads the host's
    /// file, writes a small file and 8 MiB of known content, syncs and powers off; the host then
    /// finds both in the image with debugfs, and a second boot from it reads them back.
    func testExt4ImageBootsAsRootAndKeepsWhatTheGuestWrote() throws { try checkRootBoot(backend: "soft") }

    /// The same on KVM where VT-x/AMD-V runs Linux's kernel code.
    func testExt4ImageBootsAsRootOnKVM() throws {
        try EndToEnd.requireKVM()
        if EndToEnd.isPVMHost { throw XCTSkip(EndToEnd.pvmLimitation) }
        try checkRootBoot(backend: "kvm")
    }

    private func checkRootBoot(backend: String) throws {
        let image = try makeRootImage()
        let lines = try bootFromDisk(image, test: "write", backend: backend)
        XCTAssertTrue(lines.contains("linux-root: disk says: hello from the host"), "\(lines)")
        // The same content as root-init writes: 32-byte lines, 8 MiB.
        let expected = String(repeating: "vmm block device test, 32 bytes\n", count: (8 << 20) / 32)
        let reference = directory.appendingPathComponent("expected.bin")
        try expected.write(to: reference, atomically: true, encoding: .utf8)
        let expectedHash = try sha256(reference.path)
        XCTAssertTrue(lines.contains("linux-root: wrote big.bin, sha256 \(expectedHash)"), "\(lines)")

        XCTAssertEqual(try run("debugfs", ["-R", "cat /guest.txt", image]).standardOutput, "written by the guest\n")
        let dumped = directory.appendingPathComponent("dumped.bin").path
        _ = try run("debugfs", ["-R", "dump /big.bin \(dumped)", image])
        XCTAssertEqual(try sha256(dumped), expectedHash, "the 8 MiB file reached the image intact")
        _ = try run("e2fsck", ["-f", "-n", image])

        let again = try bootFromDisk(image, test: "read", backend: backend)
        XCTAssertTrue(again.contains("linux-root: disk has: written by the guest"), "\(again)")
        XCTAssertTrue(again.contains("linux-root: big.bin sha256 \(expectedHash)"), "a second boot reads it back: \(again)")
    }

    /// readonly=on: the guest reads the file system, its write to the device fails, and the image
    /// is bit for bit what it was.
    func testReadOnlyImageStaysIntact() throws {
        let image = try makeImage()
        let before = try sha256(image)
        let (lines, _) = try boot(devices: ["virtio-blk,file=\(image),readonly=on"], tests: "readonly-disk")
        XCTAssertTrue(lines.contains("linux-guest: disk says: hello from the host"), "\(lines)")
        XCTAssertTrue(lines.contains("linux-guest: write to the read-only disk failed"), "\(lines)")
        XCTAssertEqual(try sha256(image), before)
    }
}

/// A small guest (Tests/Guests/virtio/multiboot32/hostilequeue.c) drives virtio-blk with
/// malformed chains and queue sizes: each must end as a failed request or DEVICE_NEEDS_RESET, and
/// a good read must work after each. On Soft (on this PVM host a 32-bit guest's supervisor code
/// would run in KVM's emulator).
final class HostileVirtqueueTests: XCTestCase {
    func testMalformedChainsAndQueueSizesFailCleanly() throws {
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-hostile-\(getpid()).img")
        try Data(count: 1 << 20).write(to: image)
        defer { try? FileManager.default.removeItem(at: image) }
        let result = try EndToEnd.vmm(["--backend", "soft", "--device", "virtio-blk,file=\(image.path)",
                                       "--timeout", "240", try GuestKernels.path("hostilequeue")], timeout: 300)
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        let lines = result.standardOutput.split(whereSeparator: \.isNewline).map(String.init)
        var expected = ["virtio-blk at 00:01.0", "start: good read ok"]
        for name in ["loop", "outside RAM", "zero length", "2^32-1 length", "indirect in indirect", "longer than the queue"] {
            expected += ["\(name): failed request", "\(name): good read ok"]
        }
        for size in [0, 3, 1024] {
            expected += ["queue size \(size): refused, status 0x4f", "after the bad size: good read ok"]
        }
        XCTAssertEqual(lines, expected + ["PASS"])
        XCTAssertEqual(try Data(contentsOf: image), Data(count: 1 << 20), "reads only: the image is untouched")
    }

    /// The same guest on KVM (it polls, so no IRET is needed), with both irqchips.
    func testMalformedChainsAndQueueSizesFailCleanlyOnKVM() throws {
        try EndToEnd.requireKVM()
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-hostile-kvm-\(getpid()).img")
        try Data(count: 1 << 20).write(to: image)
        defer { try? FileManager.default.removeItem(at: image) }
        for irqchip in ["user", "kernel"] {
            let result = try EndToEnd.vmm(["--backend", "kvm", "--irqchip", irqchip, "--device", "virtio-blk,file=\(image.path)",
                                           "--timeout", "240", try GuestKernels.path("hostilequeue")], timeout: 300)
            XCTAssertEqual(result.status, 1, "--irqchip \(irqchip): " + result.standardOutput + result.standardError)
            XCTAssertTrue(result.standardOutput.hasSuffix("after the bad size: good read ok\nPASS\n"), result.standardOutput)
        }
    }
}

/// MSI-X from virtio-rng into the local APIC (Tests/Guests/virtio/include/msix_rng.h): one
/// completion, one interrupt; a masked vector stays pending and is delivered on unmasking. On Soft
/// through vmm's local APICs; on KVM through them (`--irqchip user`) or an irqfd into the
/// in-kernel irqchip (`--irqchip kernel`). The queue's doorbell is an ioeventfd on KVM: the
/// device's thread takes both rings while vmm's userspace sees none.
final class MSIXGuestTests: XCTestCase {
    static let expected = ["virtio-rng at 00:01.0", "PASS: MSI-X vector 0x51 entered", "PASS: one request, one interrupt",
                           "PASS: a masked vector stays pending", "PASS: unmasking delivers it", "PASS"]

    private func run(_ backend: [String], guest: String = "msixrng") throws -> ProcessResult {
        try EndToEnd.vmm(backend + ["--device", "virtio-rng", "--stats", "--timeout", "120", try GuestKernels.path(guest)],
                         timeout: 180)
    }

    /// The long-mode build returns with IRETQ, which PVM-flavoured KVM emulates: the whole check
    /// runs on KVM with either irqchip.
    func testCompletionInterruptsInLongModeOnKVM() throws {
        try EndToEnd.requireKVM()
        for irqchip in ["user", "kernel"] {
            let result = try run(["--backend", "kvm", "--irqchip", irqchip], guest: "msixrng64")
            XCTAssertEqual(result.status, 1, "--irqchip \(irqchip): \(result.standardOutput)\(result.standardError)")
            XCTAssertEqual(result.standardOutput.split(separator: "\n").map(String.init), Self.expected, "--irqchip \(irqchip)")
            XCTAssertEqual(EndToEnd.statistic("virtio-rng queue 0", in: result.standardError), 2,
                           "both requests' doorbells taken by the device's thread: \(result.standardError)")
            XCTAssertNil(EndToEnd.statistic("doorbells", in: result.standardError), "none rung in vmm's userspace")
        }
    }

    func testCompletionInterruptsOnSoft() throws {
        for guest in ["msixrng", "msixrng64"] {
            let result = try run(["--backend", "soft"], guest: guest)
            XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
            XCTAssertEqual(result.standardOutput.split(separator: "\n").map(String.init), Self.expected, guest)
            XCTAssertEqual(EndToEnd.statistic("doorbells", in: result.standardError), 2, "rung by the vCPU: \(result.standardError)")
        }
    }

    /// On a PVM host the handler is entered but its 32-bit IRET cannot be emulated: the delivery is
    /// checked, the rest is a skip naming the limitation.
    func testCompletionInterruptsOnKVM() throws {
        try EndToEnd.requireKVM()
        var stoppedByHost: [String] = []
        for irqchip in ["user", "kernel"] {
            let result = try run(["--backend", "kvm", "--irqchip", irqchip])
            XCTAssertTrue(result.standardOutput.contains("PASS: MSI-X vector 0x51 entered\n"),
                          "--irqchip \(irqchip): \(result.standardOutput)\(result.standardError)")
            if let limitation = InterruptKVMTests.hostCannotReturn(result) {
                stoppedByHost.append("--irqchip \(irqchip): \(limitation)")
                continue
            }
            XCTAssertEqual(result.status, 1, "--irqchip \(irqchip): \(result.standardOutput)\(result.standardError)")
            XCTAssertEqual(result.standardOutput.split(separator: "\n").map(String.init), Self.expected)
        }
        if !stoppedByHost.isEmpty {
            throw XCTSkip("the MSI-X handler was entered, but this host's KVM cannot emulate its IRET (PVM host "
                          + "limitation): " + stoppedByHost.joined(separator: "; "))
        }
    }
}
