#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// The gdb stub's socket and thread: accepts one gdb at a time and carries packets between it and a
/// `GDBSession`. When gdb connects the machine stops (as under QEMU), when it detaches or goes away
/// the machine runs on without breakpoints. The protocol code is in the session; this file is I/O.
///
/// While the machine runs, the thread waits in poll(2) on the connection (for Ctrl-C) and on a
/// pipe the target's change notification writes to, so it never spins or sleeps on a timer.
public final class GDBServer: @unchecked Sendable {
    public let address: GDBListenAddress
    private let listener: Int32
    private let target: any DebugTarget
    private let architecture: GDBArchitecture
    /// [read end, write end]: the target's stops and `stop()` wake the poll.
    private let wakeUp: [Int32]
    private let closing = Atomic<Bool>(false)
    private var thread: HostThread?

    /// Binds and listens now, so that a port in use fails vmm's start with one line.
    public init(address requested: GDBListenAddress, target: any DebugTarget, architecture: GDBArchitecture) throws(GDBStubError) {
        let shown = "\(requested.host):\(requested.port)"
        let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socketFD >= 0 else { throw .socket(what: "open a socket for", address: shown, reason: Self.lastError()) }
        var yes: Int32 = 1
        setsockopt(socketFD, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var socketAddress = sockaddr_in()
        socketAddress.sin_family = sa_family_t(AF_INET)
        socketAddress.sin_port = requested.port.bigEndian
        guard inet_pton(AF_INET, requested.host, &socketAddress.sin_addr) == 1 else {
            close(socketFD)
            throw .badAddress("tcp:" + shown)
        }
        let bound = withUnsafePointer(to: &socketAddress) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socketFD, 1) == 0 else {
            let reason = Self.lastError()
            close(socketFD)
            throw .socket(what: "listen on", address: shown, reason: reason)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socketFD, $0, &length) }
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard pipe(&pipeFDs) == 0 else {
            close(socketFD)
            throw .socket(what: "make a wake-up pipe for", address: shown, reason: Self.lastError())
        }
        for end in pipeFDs { _ = fcntl(end, F_SETFD, FD_CLOEXEC); _ = fcntl(end, F_SETFL, O_NONBLOCK) }
        listener = socketFD
        wakeUp = pipeFDs
        address = GDBListenAddress(host: requested.host, port: UInt16(bigEndian: actual.sin_port))
        self.target = target
        self.architecture = architecture
    }

    deinit {
        close(listener)
        wakeUp.forEach { close($0) }
    }

    /// Starts the stub's thread.
    public func start() throws {
        let wakeFD = wakeUp[1]
        target.onChange { Self.poke(wakeFD) }
        thread = try HostThread(name: "gdb") { [self] in serve() }
    }

    /// Ends the thread (the machine's run is over): a connected gdb is told the program exited.
    public func stop() {
        closing.store(true, ordering: .releasing)
        Self.poke(wakeUp[1])
        thread?.join()
        thread = nil
        target.onChange(nil)
    }

    private static func poke(_ fd: Int32) {
        var byte: UInt8 = 1
        _ = write(fd, &byte, 1)
    }

    private func drainWakeUp() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeUp[0], &buffer, buffer.count) > 0 {}
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }

    // MARK: the thread

    private func serve() {
        while !closing.load(ordering: .acquiring) {
            guard wait(for: listener) == .ready else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
            var noDelay: Int32 = 1
            setsockopt(connection, Int32(IPPROTO_TCP), TCP_NODELAY, &noDelay, socklen_t(MemoryLayout<Int32>.size))
            var session = GDBConnection(fd: connection, target: target,
                                        session: GDBSession(target: target, architecture: architecture), server: self)
            session.run()
            close(connection)
        }
    }

    enum Readiness { case ready, woken, closed }

    /// Waits until `fd` is readable, or the wake-up pipe is (drained here).
    func wait(for fd: Int32) -> Readiness {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeUp[0], events: Int16(POLLIN), revents: 0)]
        let result = poll(&fds, 2, -1)
        if closing.load(ordering: .acquiring) { return .closed }
        guard result > 0 else { return .woken }
        if fds[1].revents != 0 { drainWakeUp() }
        return fds[0].revents != 0 ? .ready : .woken
    }

    var isClosing: Bool { closing.load(ordering: .acquiring) }
}

/// One gdb connection: packets in, replies out, and the machine's stops while it runs.
private struct GDBConnection {
    let fd: Int32
    let target: any DebugTarget
    let session: GDBSession
    let server: GDBServer
    private var reader = GDBPacketReader()
    private var lastSent: [UInt8] = []
    private var running = false

    init(fd: Int32, target: any DebugTarget, session: GDBSession, server: GDBServer) {
        self.fd = fd
        self.target = target
        self.session = session
        self.server = server
    }

    mutating func run() {
        guard let stop = target.stop() else { return }
        _ = session.stopped(stop)
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            switch server.wait(for: fd) {
            case .closed:
                if running { send(Array("W00".utf8)) }
                return
            case .woken:
                guard let outcome = target.waitForStop(blocking: false) else { continue }
                guard let stop = outcome else {
                    send(Array("W00".utf8)) // the machine's run ended
                    return
                }
                if running {
                    running = false
                    send(session.stopped(stop))
                }
            case .ready:
                let count = read(fd, &buffer, buffer.count)
                guard count > 0 else { return letGo() }
                for byte in buffer[0..<count] {
                    guard let input = reader.feed(byte) else { continue }
                    guard take(input) else { return }
                }
            }
        }
    }

    /// Handles one input; false when the connection ends.
    private mutating func take(_ input: GDBInput) -> Bool {
        switch input {
        case .acknowledged:
            return true
        case .retransmitRequested:
            if !lastSent.isEmpty { transmit(lastSent) }
            return true
        case .rejected:
            if session.acknowledges { transmit([UInt8(ascii: "-")]) }
            return true
        case .interrupt:
            guard running else { return true }
            running = false
            guard let stop = target.stop() else {
                send(Array("W00".utf8))
                return false
            }
            send(session.stopped(stop, byUser: stop.reason == .interrupted))
            return true
        case let .packet(payload):
            if session.acknowledges { transmit([UInt8(ascii: "+")]) }
            // In all-stop mode gdb sends nothing but Ctrl-C while the machine runs.
            guard !running else { return true }
            let response = session.handle(payload)
            if let reply = response.reply { send(reply) }
            switch response.next {
            case .stopped: return true
            case .running:
                running = true
                return true
            case .detached:
                return false
            case .killed:
                target.kill()
                return false
            }
        }
    }

    /// gdb went away without detaching: the machine runs on, its breakpoints gone.
    private mutating func letGo() {
        if running, target.stop() == nil { return }
        try? target.resume(stepping: nil, breakpoints: DebugBreakpoints())
    }

    private mutating func send(_ payload: [UInt8]) {
        lastSent = GDBPacketWriter.frame(payload)
        transmit(lastSent)
    }

    private func transmit(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if sent < 0 && errno == EINTR { continue }
            guard sent > 0 else { return }
            offset += sent
        }
    }
}
