#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import FuzzTargets
import Synchronization
import TestSupport
import XCTest

/// setns(2), which Glibc's Swift module leaves out (it is behind _GNU_SOURCE).
@_silgen_name("setns")
private func setns(_ descriptor: Int32, _ type: Int32) -> Int32
/// <sched.h>: the network namespace, for setns.
private let newNetworkNamespace: Int32 = 0x4000_0000

/// Debian's kernel with virtio-net on the Soft backend (and on KVM where it can run Linux), over
/// real host links: a tap interface in a network namespace the test makes (so the traffic stays
/// inside it), and passt. The initramfs's init (Tests/Guests/linux/init) does the guest's side
/// with busybox: `ip`, `nc`, `udhcpc`.
final class VirtioNetGuestTests: XCTestCase {
    /// A debug build boots Linux on Soft in a minute or more on a loaded host, and 32 MiB cross
    /// the link.
    static let watchdog: Double = 1200
    static let guestAddress = "10.0.2.15"
    static let hostAddress = "10.0.2.2"
    static let mac = "52:54:00:ab:cd:ef"
    /// A blocking socket call that waits longer than this means the guest is gone.
    static let socketWatchdog = 300

    private var directory: URL!

    override func setUpWithError() throws { directory = try EndToEnd.scratchDirectory("vmm-net") }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// A vmm run on another thread, so that the test can be the guest's peer meanwhile.
    private final class BackgroundRun: @unchecked Sendable {
        private let finished = DispatchSemaphore(value: 0)
        private let outcome = Mutex<ProcessResult?>(nil)

        init(_ executable: String, _ arguments: [String], timeout: Double) {
            DispatchQueue.global().async { [self] in
                let result = HostProcess.run(executable, arguments, timeout: timeout)
                outcome.withLock { $0 = result }
                finished.signal()
            }
        }

        var isRunning: Bool { outcome.withLock { $0 == nil } }

        func wait() -> ProcessResult {
            finished.wait()
            return outcome.withLock { $0! }
        }
    }

    /// The guest's init lines, after checking the run ended through the debug-exit port with PASS.
    private func initLines(_ result: ProcessResult) -> [String] {
        let all = result.standardOutput.split(whereSeparator: \.isNewline).map(String.init)
        let tail = all.suffix(40).joined(separator: "\n")
        XCTAssertFalse(result.timedOut, "vmm outlived its watchdog:\n\(tail)")
        XCTAssertEqual(result.status, 1, "init ends the run through the debug-exit port:\n\(tail)\n\(result.standardError)")
        let lines = all.filter { $0.hasPrefix("linux-guest:") }
        XCTAssertTrue(lines.contains("linux-guest: PASS"), tail)
        return lines
    }

    private func sha256(_ data: Data) throws -> String {
        let file = directory.appendingPathComponent("hashed-\(UUID().uuidString).bin")
        try data.write(to: file)
        let result = HostProcess.run("sha256sum", [file.path], timeout: 120)
        XCTAssertEqual(result.status, 0, result.standardError)
        return String(result.standardOutput.prefix(64))
    }

    // MARK: tap in a namespace of the test's own

    /// Runs `ip` with `arguments`, failing the test on an error.
    @discardableResult
    private func ip(_ arguments: [String]) throws -> ProcessResult {
        let result = HostProcess.run("ip", arguments, timeout: 60)
        guard result.status != 127 else { throw XCTSkip("ip is not installed (iproute2)") }
        XCTAssertEqual(result.status, 0, "ip \(arguments.joined(separator: " ")): \(result.standardError)")
        return result
    }

    /// A TCP socket created inside network namespace `namespace` (setns on this thread for the
    /// socket(2) call only: a socket belongs to the namespace it was made in), with receive and
    /// send watchdogs.
    private func socket(in namespace: String) throws -> Int32 {
        let original = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)
        let target = open("/run/netns/\(namespace)", O_RDONLY | O_CLOEXEC)
        defer {
            close(original)
            close(target)
        }
        guard original >= 0, target >= 0, setns(target, newNetworkNamespace) == 0 else {
            throw XCTSkip("cannot enter network namespace \(namespace): \(String(cString: strerror(errno)))")
        }
        let descriptor = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        precondition(setns(original, newNetworkNamespace) == 0, "back to the test's own network namespace")
        var watchdog = timeval(tv_sec: Self.socketWatchdog, tv_usec: 0)
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            setsockopt(descriptor, SOL_SOCKET, option, &watchdog, socklen_t(MemoryLayout<timeval>.size))
        }
        return descriptor
    }

    /// Connects to the guest's `port` from inside `namespace`, trying again while the guest is not
    /// listening yet and vmm runs.
    private func connectToGuest(port: UInt16, namespace: String, while run: BackgroundRun) throws -> Int32? {
        while run.isRunning {
            let descriptor = try socket(in: namespace)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = inet_addr(Self.guestAddress)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
                }
            }
            if connected { return descriptor }
            close(descriptor)
            usleep(200_000)
        }
        return nil
    }

    private func sendAll(_ data: Data, to descriptor: Int32) -> Bool {
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let sent = send(descriptor, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { return false }
                offset += sent
            }
            return true
        }
    }

    private func receiveAll(from descriptor: Int32) -> Data {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let got = recv(descriptor, &buffer, buffer.count, 0)
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else {
                XCTAssertEqual(got, 0, "the guest closed the connection (not \(String(cString: strerror(errno))))")
                return data
            }
            data.append(contentsOf: buffer[0..<got])
        }
    }

    /// The issue's network test: a namespace with a tap (10.0.2.2/24 on the host's side), vmm in
    /// it, the guest at 10.0.2.15/24 from its command line; the host pings it, sends it 16 MiB
    /// over TCP and takes them back on a second connection, each way compared by sha256. The namespace goes away however
    /// the test ends.
    func testTapLinkPingAndSixteenMebibytesEachWay() throws { try checkTapLink(backend: "soft") }

    /// The same on KVM where VT-x/AMD-V runs Linux's kernel code (with the in-kernel irqchip, so
    /// completions arrive through KVM_SIGNAL_MSI).
    func testTapLinkOnKVM() throws {
        try EndToEnd.requireKVM()
        if EndToEnd.isPVMHost { throw XCTSkip(EndToEnd.pvmLimitation) }
        try checkTapLink(backend: "kvm", options: ["--irqchip", "kernel"])
    }

    private func checkTapLink(backend: String, options: [String] = []) throws {
        let guest = try LinuxGuestTests.builtGuest()
        guard getuid() == 0 else { throw XCTSkip("making a network namespace and a tap interface needs root") }
        let busybox = guest.busybox
        let namespace = "vmm-net-\(getpid())"
        let tap = "vmmtap\(getpid() % 100_000)"
        try ip(["netns", "add", namespace])
        defer { _ = HostProcess.run("ip", ["netns", "delete", namespace], timeout: 60) }
        let inside = ["netns", "exec", namespace]
        try ip(inside + ["ip", "link", "set", "lo", "up"])
        try ip(inside + ["ip", "tuntap", "add", tap, "mode", "tap"])
        try ip(inside + ["ip", "addr", "add", Self.hostAddress + "/24", "dev", tap])
        try ip(inside + ["ip", "link", "set", tap, "up"])

        let seed = UInt64(ProcessInfo.processInfo.environment["VMM_TEST_SEED"] ?? "") ?? UInt64.random(in: 1...UInt64.max)
        print("VirtioNetGuestTests: host-to-guest data from seed \(seed) (VMM_TEST_SEED)")
        var generator = SplitMix64(seed: seed)
        let outbound = Data((0..<(16 << 20) / 8).flatMap { _ in withUnsafeBytes(of: generator.next()) { Array($0) } })

        let append = LinuxGuestTests.commandLine + " linux-guest.test=net linux-guest.ip=\(Self.guestAddress)/24"
        let run = BackgroundRun("ip", inside + [try VMMBinary.path(), "--backend", backend] + options + ["--memory", "512M",
                                                "--device", "virtio-net,tap=\(tap),mac=\(Self.mac)", "--append", append,
                                                "--initrd", guest.initrd, "--timeout", String(Int(Self.watchdog - 60)),
                                                guest.kernel], timeout: Self.watchdog)
        // The guest answers pings once init has configured eth0.
        var pinged = false
        while run.isRunning && !pinged {
            pinged = HostProcess.run("ip", inside + [busybox, "ping", "-c", "1", "-W", "2", Self.guestAddress], timeout: 60).status == 0
        }
        let ping = HostProcess.run("ip", inside + [busybox, "ping", "-c", "3", Self.guestAddress], timeout: 120)
        XCTAssertTrue(pinged && ping.status == 0, "the guest answers ping: \(ping.standardOutput)\(ping.standardError)")

        var sentHash = "", received = Data()
        if let toGuest = try connectToGuest(port: 5002, namespace: namespace, while: run) {
            XCTAssertTrue(sendAll(outbound, to: toGuest), "16 MiB sent to the guest")
            shutdown(toGuest, Int32(SHUT_WR))
            _ = receiveAll(from: toGuest)
            close(toGuest)
            sentHash = try sha256(outbound)
        }
        if let fromGuest = try connectToGuest(port: 5003, namespace: namespace, while: run) {
            received = receiveAll(from: fromGuest)
            close(fromGuest)
        }
        let lines = initLines(run.wait())
        XCTAssertTrue(lines.contains("linux-guest: eth0 \(Self.mac) has \(Self.guestAddress)/24"), "\(lines)")
        XCTAssertFalse(sentHash.isEmpty, "the host connected to the guest's port 5002")
        XCTAssertTrue(lines.contains("linux-guest: received 16777216 bytes, sha256 \(sentHash)"),
                      "the guest got the 16 MiB intact: \(lines)")
        XCTAssertTrue(lines.contains("linux-guest: sent them back"), "\(lines)")
        XCTAssertEqual(received.count, outbound.count, "16 MiB back from the guest")
        XCTAssertEqual(try sha256(received), sentHash, "the guest's 16 MiB arrived intact")
    }

    // MARK: passt

    /// passt gives the guest its address by DHCP and carries a TCP connection from the guest to a
    /// listener the test runs on the host's loopback (passt maps the gateway's address to it).
    func testDHCPAndLoopbackConnectionThroughPasst() throws {
        let guest = try LinuxGuestTests.builtGuest()
        let passtPath = ["/usr/bin/passt", "/usr/local/bin/passt"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let passtPath else { throw XCTSkip("passt is not installed (scripts/install-packages.sh test)") }
        let listener = try EndToEnd.loopbackSocket(listening: true)
        defer { close(listener.descriptor) }
        // Run as root, passt becomes nobody before it binds its socket: the folder must let it.
        let socketFolder = directory.appendingPathComponent("passt")
        try FileManager.default.createDirectory(at: socketFolder, withIntermediateDirectories: true)
        chmod(socketFolder.path, 0o1777)
        let socketPath = socketFolder.appendingPathComponent("passt.socket").path
        // -f: stays in the foreground, so it is this test's child; -1: ends after its one client.
        let passt = Process()
        passt.executableURL = URL(fileURLWithPath: passtPath)
        passt.arguments = ["-f", "-q", "-1", "-s", socketPath]
        passt.standardInput = FileHandle.nullDevice
        passt.standardOutput = FileHandle.nullDevice
        passt.standardError = FileHandle.nullDevice
        try passt.run()
        defer {
            if passt.isRunning { passt.terminate() }
            passt.waitUntilExit()
        }
        while passt.isRunning && !FileManager.default.fileExists(atPath: socketPath) { usleep(100_000) }
        guard passt.isRunning else { return XCTFail("passt ended before making its socket (status \(passt.terminationStatus))") }

        let append = LinuxGuestTests.commandLine + " linux-guest.test=dhcp linux-guest.peer-port=\(listener.port)"
        let run = BackgroundRun(try VMMBinary.path(), ["--backend", "soft", "--memory", "512M",
                                                       "--device", "virtio-net,passt=\(socketPath)", "--append", append,
                                                       "--initrd", guest.initrd, "--timeout", String(Int(Self.watchdog - 60)),
                                                       guest.kernel], timeout: Self.watchdog)
        var peer: Int32 = -1
        while run.isRunning && peer < 0 {
            var wait = pollfd(fd: listener.descriptor, events: Int16(POLLIN), revents: 0)
            if poll(&wait, 1, 500) == 1 { peer = accept(listener.descriptor, nil, nil) }
        }
        var greeting = ""
        if peer >= 0 {
            var buffer = [UInt8](repeating: 0, count: 256)
            var watchdog = timeval(tv_sec: Self.socketWatchdog, tv_usec: 0)
            setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &watchdog, socklen_t(MemoryLayout<timeval>.size))
            while !greeting.hasSuffix("\n") {
                let got = recv(peer, &buffer, buffer.count, 0)
                guard got > 0 else { break }
                greeting += String(decoding: buffer[0..<got], as: UTF8.self)
            }
            XCTAssertTrue(sendAll(Data("hello from the host\n".utf8), to: peer))
            close(peer)
        }
        let lines = initLines(run.wait())
        XCTAssertEqual(greeting, "hello from the guest\n", "the guest reached the host's loopback listener: \(lines)")
        XCTAssertTrue(lines.contains { $0.hasPrefix("linux-guest: dhcp gave ") && !$0.hasPrefix("linux-guest: dhcp gave  ") },
                      "passt's DHCP gave eth0 an address: \(lines)")
        XCTAssertTrue(lines.contains("linux-guest: the host answered: hello from the host"), "\(lines)")
    }
}
