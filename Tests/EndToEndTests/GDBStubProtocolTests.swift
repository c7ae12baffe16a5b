#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import GDBStub
import TestSupport
import XCTest

/// vmm's gdb stub spoken to directly, packet by packet, for what gdb in batch mode cannot do:
/// attaching to a running machine, Ctrl-C (0x03) while it runs, and kill.
final class GDBStubProtocolTests: XCTestCase {
    /// A gdb-side connection: sends packets, reads replies (skipping acknowledgements).
    private final class Client {
        let fd: Int32
        private var reader = GDBPacketReader()

        init(port: UInt16, within seconds: Double) throws {
            let deadline = Date().addingTimeInterval(seconds)
            while true {
                let socketFD = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = port.bigEndian
                address.sin_addr.s_addr = inet_addr("127.0.0.1")
                let connected = withUnsafePointer(to: &address) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socketFD, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
                }
                if connected == 0 {
                    fd = socketFD
                    var timeout = timeval(tv_sec: 120, tv_usec: 0) // a watchdog on every read
                    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
                    return
                }
                close(socketFD)
                guard Date() < deadline else { throw XCTSkip("vmm's gdb stub did not listen on port \(port)") }
                usleep(50_000)
            }
        }

        deinit { close(fd) }

        func sendRaw(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) } }

        func send(_ payload: String) { sendRaw(GDBPacketWriter.frame(Array(payload.utf8))) }

        /// The next packet's payload; nil on end of stream or the read watchdog.
        func receive() -> String? {
            var byte: UInt8 = 0
            while read(fd, &byte, 1) == 1 {
                if case let .packet(payload) = reader.feed(byte) { return String(decoding: payload, as: UTF8.self) }
            }
            return nil
        }

        func ask(_ payload: String) -> String? {
            send(payload)
            return receive()
        }
    }

    func testAttachToARunningMachineInterruptItAndKillIt() throws {
        // The sieve over 200 MB computes for a long while before it prints: a machine that is busy
        // when gdb comes and when it presses Ctrl-C. An ELF32 file: gdb gets the i386 registers.
        let kernel = try GuestKernels.path("sieve")
        let port = try EndToEnd.freeLoopbackPort()
        let vmmBinary = try VMMBinary.path()
        // A group, not a semaphore: waiting for it again (the defer) returns at once once vmm ended.
        let finished = DispatchGroup()
        nonisolated(unsafe) var vmm: ProcessResult?
        DispatchQueue.global().async(group: finished) {
            vmm = HostProcess.run(vmmBinary, ["--backend", "soft", "--memory", "512M", "--timeout", "200", "--append", "n=200000000",
                                              "--gdb", "tcp:127.0.0.1:\(port)", kernel], timeout: 260)
        }
        defer { _ = finished.wait(timeout: .now() + 270) }
        let client = try Client(port: port, within: 60)
        // Attaching stops the machine; '?' says it was stopped, not why a breakpoint hit.
        XCTAssertEqual(client.ask("?"), "T05thread:1;")
        XCTAssertEqual(client.ask("QStartNoAckMode"), "OK")
        let description = try XCTUnwrap(client.ask("qXfer:features:read:target.xml:0,3fff"))
        XCTAssertTrue(description.contains("<architecture>i386</architecture>"), description)
        let first = try XCTUnwrap(client.ask("g"))
        XCTAssertFalse(first.hasPrefix("E"), first)
        // Continue, let it run, interrupt: SIGINT, on vCPU 0, somewhere else in the sieve.
        client.send("vCont;c")
        usleep(300_000)
        client.sendRaw([0x03])
        XCTAssertEqual(client.receive(), "T02thread:1;")
        let second = try XCTUnwrap(client.ask("g"))
        XCTAssertNotEqual(first, second, "the guest ran between the two stops")
        // eip is register 8 on i386; it reads as 4 little-endian bytes.
        XCTAssertEqual(client.ask("p8")?.count, 8)
        client.send("k")
        XCTAssertEqual(finished.wait(timeout: .now() + 120), .success, "vmm did not end after kill")
        let result = try XCTUnwrap(vmm)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardError.contains("vmm: killed from the debugger"), result.standardError)
    }
}
