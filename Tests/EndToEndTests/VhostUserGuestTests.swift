import Foundation
import TestSupport
import XCTest

/// Devices served by other programs over vhost-user, with Debian's kernel on Soft: virtiofsd
/// (QEMU 7.2's, from qemu-system-common) sharing a temporary folder, and qemu-storage-daemon
/// exporting a raw image as vhost-user-blk. The guest's init (Tests/Guests/linux/init) does the
/// guest's half; the host checks what it wrote.
final class VhostUserGuestTests: XCTestCase {
    /// A debug build boots Linux on Soft in a minute or more, and in up to five at load 20 on two
    /// cores; the watchdog is VirtioGuestTests'.
    static let watchdog: Double = 900
    static let virtiofsd = "/usr/lib/qemu/virtiofsd"
    static let storageDaemon = "/usr/bin/qemu-storage-daemon"

    private var directory: URL!
    private var backends: [Process] = []

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-vhost-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        for backend in backends where backend.isRunning {
            backend.terminate()
            backend.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    private func guest() throws -> LinuxGuestTests.LinuxGuest {
        switch LinuxGuestTests.guest {
        case let .success(guest): return guest
        case let .failure(error): throw XCTSkip("the Linux guest could not be built here: \(error)")
        }
    }

    /// Starts `program` and waits until it listens at `socket` (it creates the file when it
    /// binds); fails with its output when it exits first.
    private func startBackend(_ program: String, _ arguments: [String], socket: String) throws -> Process {
        guard FileManager.default.isExecutableFile(atPath: program) else {
            throw XCTSkip("\(program) is not installed (qemu-system-common, which scripts/install-packages.sh test brings with qemu-system-x86)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let log = directory.appendingPathComponent(URL(fileURLWithPath: program).lastPathComponent + ".log")
        guard FileManager.default.createFile(atPath: log.path, contents: nil) else { throw CocoaError(.fileWriteUnknown) }
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        backends.append(process)
        while !FileManager.default.fileExists(atPath: socket) {
            guard process.isRunning else {
                let output = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                // virtiofsd's sandbox (namespaces) needs root; as another user it cannot start.
                if getuid() != 0 { throw XCTSkip("\(program) cannot start without root here: \(output)") }
                XCTFail("\(program) ended before listening: \(output)")
                throw XCTSkip("no back-end")
            }
            usleep(20_000)
        }
        return process
    }

    private func startVirtiofsd(sharing folder: URL) throws -> (Process, socket: String) {
        let socket = directory.appendingPathComponent("fs.sock").path
        let process = try startBackend(Self.virtiofsd, ["--socket-path=\(socket)", "-o", "source=\(folder.path)", "-o", "cache=none"],
                                       socket: socket)
        return (process, socket)
    }

    /// Boots with `devices` and the init checks `tests`; returns init's lines and the run.
    private func boot(devices: [String], tests: String, backend: String = "soft", timeout: Double = watchdog - 30) throws
        -> (lines: [String], result: ProcessResult)
    {
        let guest = try guest()
        var arguments = ["--backend", backend, "--memory", "256M"]
        for device in devices { arguments += ["--device", device] }
        arguments += ["--append", LinuxGuestTests.commandLine + " linux-guest.test=" + tests, "--initrd", guest.initrd,
                      "--timeout", String(Int(timeout)), guest.kernel]
        let result = try EndToEnd.vmm(arguments, timeout: Self.watchdog)
        let lines = result.standardOutput.split(whereSeparator: \.isNewline).map(String.init).filter { $0.hasPrefix("linux-guest:") }
        return (lines, result)
    }

    private func tail(_ result: ProcessResult) -> String {
        result.standardOutput.split(whereSeparator: \.isNewline).suffix(40).joined(separator: "\n") + "\n" + result.standardError
    }

    func testVirtioFSSharesAFolderWithTheHost() throws { try checkVirtioFS(backend: "soft") }

    /// On a VT-x/AMD-V host the same guest on KVM, whose memory slots map the memfd.
    func testVirtioFSSharesAFolderWithTheHostOnKVM() throws {
        try EndToEnd.requireKVM()
        if EndToEnd.isPVMHost { throw XCTSkip(EndToEnd.pvmLimitation) }
        try checkVirtioFS(backend: "kvm")
    }

    /// Guest RAM in a memfd on KVM, where Linux cannot run (PVM): a small guest runs from it with
    /// a vhost-user-fs device present.
    func testGuestRunsFromSharedMemoryOnKVM() throws {
        try EndToEnd.requireKVM()
        let (_, socket) = try startVirtiofsd(sharing: directory)
        let result = try EndToEnd.vmm(["--backend", "kvm", "--memory", "512M", "--device", "vhost-user-fs,socket=\(socket),tag=shared",
                                       try GuestKernels.path("hello")], timeout: EndToEnd.guestTimeout)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("PASS"), result.standardOutput)
    }

    private func checkVirtioFS(backend: String) throws {
        let folder = directory.appendingPathComponent("shared")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try "hello from the host\n".write(to: folder.appendingPathComponent("from-host.txt"), atomically: true, encoding: .utf8)
        let (_, socket) = try startVirtiofsd(sharing: folder)
        let (lines, result) = try boot(devices: ["vhost-user-fs,socket=\(socket),tag=shared"], tests: "virtiofs", backend: backend)
        XCTAssertEqual(result.status, 1, tail(result))
        XCTAssertTrue(lines.contains("linux-guest: virtiofs says: hello from the host"), tail(result))
        XCTAssertTrue(lines.contains("linux-guest: virtiofs unmounted"), tail(result))
        XCTAssertEqual(try? String(contentsOf: folder.appendingPathComponent("from-guest.txt"), encoding: .utf8),
                       "written by the guest over virtio-fs\n")
    }

    /// A line of `text` repeated to `count` bytes, as `yes TEXT | head -c COUNT` makes it.
    private func pattern(_ text: String, count: Int) -> Data {
        let line = Array((text + "\n").utf8)
        return Data((0..<count).map { line[$0 % line.count] })
    }

    private func sha256(_ data: Data) throws -> String {
        let file = directory.appendingPathComponent("digest.bin")
        try data.write(to: file)
        return String(HostProcess.run("sha256sum", [file.path], timeout: 60).standardOutput.prefix(64))
    }

    func testVhostUserBlockReadsAndWritesAnImage() throws {
        let image = directory.appendingPathComponent("disk.raw")
        let hostPattern = pattern("written by the host for vhost-user-blk", count: 1 << 20)
        try (hostPattern + Data(count: 15 << 20)).write(to: image)
        let socket = directory.appendingPathComponent("blk.sock").path
        _ = try startBackend(Self.storageDaemon, [
            "--blockdev", "driver=file,node-name=disk,filename=\(image.path)",
            "--export", "type=vhost-user-blk,id=export,node-name=disk,addr.type=unix,addr.path=\(socket),writable=on",
        ], socket: socket)
        let (lines, result) = try boot(devices: ["vhost-user-blk,socket=\(socket)"], tests: "vhost-disk")
        XCTAssertEqual(result.status, 1, tail(result))
        XCTAssertTrue(lines.contains("linux-guest: vhost disk reads sha256 \(try sha256(hostPattern))"), tail(result))
        XCTAssertTrue(lines.contains("linux-guest: vhost disk written"), tail(result))
        let written = try Data(contentsOf: image)
        XCTAssertEqual(written.subdata(in: (1 << 20)..<(2 << 20)), pattern("written by the guest to vhost-user-blk", count: 1 << 20))
    }

    /// virtiofsd is killed while the guest uses the folder: the device fails with one line on
    /// stderr, the guest's requests go unanswered, and vmm runs on until the guest ends the run.
    func testKilledBackendFailsTheDeviceNotVMM() throws {
        let folder = directory.appendingPathComponent("shared")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let (daemon, socket) = try startVirtiofsd(sharing: folder)
        let killer = Thread {
            while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("alive.txt").path) {
                guard daemon.isRunning else { return }
                usleep(50_000)
            }
            kill(daemon.processIdentifier, SIGKILL)
        }
        killer.start()
        let (lines, result) = try boot(devices: ["vhost-user-fs,socket=\(socket),tag=shared"], tests: "vhost-dies")
        XCTAssertFalse(daemon.isRunning, "the guest never wrote alive.txt:\n\(tail(result))")
        XCTAssertEqual(result.status, 1, "the guest ends the run itself:\n\(tail(result))")
        XCTAssertTrue(lines.contains("linux-guest: virtiofs stopped answering"), tail(result))
        let failures = result.standardError.split(separator: "\n").filter { $0.contains("vhost-user-fs (\(socket)) failed") }
        XCTAssertEqual(failures.count, 1, result.standardError)
    }

    /// One line on stderr and status 2, before any guest runs.
    private func expectRejection(_ device: String, mentioning words: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try EndToEnd.vmm(["--backend", "soft", "--device", device, try GuestKernels.path("hello")], timeout: 60)
        XCTAssertEqual(result.status, 2, result.standardError, file: file, line: line)
        XCTAssertEqual(result.standardError.split(separator: "\n").count, 1, result.standardError, file: file, line: line)
        for word in words {
            XCTAssertTrue(result.standardError.contains(word), "'\(word)' in: \(result.standardError)", file: file, line: line)
        }
    }

    func testAbsentSocketAndUnsuitableBackendStopVMMAtStart() throws {
        let absent = directory.appendingPathComponent("absent.sock").path
        try expectRejection("vhost-user-fs,socket=\(absent),tag=shared", mentioning: [absent, "no socket"])
        try expectRejection("vhost-user-fs,tag=shared", mentioning: ["socket=PATH"])
        try expectRejection("vhost-user-blk", mentioning: ["socket=PATH"])
        try expectRejection("vhost-user-fs,socket=\(absent),tag=\(String(repeating: "t", count: 37))", mentioning: ["tag"])
        // virtiofsd as a block device: it has no configuration space to give (PROTOCOL_F_CONFIG).
        let (_, socket) = try startVirtiofsd(sharing: directory)
        try expectRejection("vhost-user-blk,socket=\(socket)", mentioning: ["VHOST_USER_PROTOCOL_F_CONFIG"])
    }
}
