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

    /// vmm on the Soft backend with `--gdb` (no wait: the machine runs until the client attaches),
    /// in the background; the group is done when vmm ended.
    private func startVMM(_ arguments: [String], guest: String) throws -> (client: Client, finished: DispatchGroup, result: () -> ProcessResult?) {
        let kernel = try GuestKernels.path(guest)
        let port = try EndToEnd.freeLoopbackPort()
        let vmmBinary = try VMMBinary.path()
        // A group, not a semaphore: waiting for it again returns at once once vmm ended.
        let finished = DispatchGroup()
        nonisolated(unsafe) var vmm: ProcessResult?
        DispatchQueue.global().async(group: finished) {
            vmm = HostProcess.run(vmmBinary, ["--backend", "soft", "--timeout", "200"] + arguments
                                  + ["--gdb", "tcp:127.0.0.1:\(port)", kernel], timeout: 260)
        }
        let client = try Client(port: port, within: 60)
        return (client, finished, { vmm })
    }

    func testAttachToARunningMachineInterruptItAndKillIt() throws {
        // The sieve over 200 MB computes for a long while before it prints: a machine that is busy
        // when gdb comes and when it presses Ctrl-C. An ELF32 file: gdb gets the i386 registers.
        let (client, finished, result) = try startVMM(["--memory", "512M", "--append", "n=200000000"], guest: "sieve")
        defer { _ = finished.wait(timeout: .now() + 270) }
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
        let vmm = try XCTUnwrap(result())
        XCTAssertEqual(vmm.status, 0, vmm.standardError)
        XCTAssertTrue(vmm.standardError.contains("vmm: killed from the debugger"), vmm.standardError)
    }

    /// Two vCPUs rewriting and calling code in a shared page (smp-stress case 3, SDM vol. 3, 9.1.3):
    /// stopped and continued again and again, both parked each time, and detached; the guest must
    /// still find every code change, so no vCPU ran stale code across a stop.
    func testStoppingTwoBusyVCPUsAgainAndAgainAndDetaching() throws {
        let (client, finished, result) = try startVMM(["--cpus", "2", "--append", "cpus=2 case=3 iterations=20000"],
                                                      guest: "smp-stress")
        defer { _ = finished.wait(timeout: .now() + 270) }
        XCTAssertEqual(client.ask("qfThreadInfo"), "m1,2")
        var stops = 0
        for round in 0..<5 {
            client.send("c")
            usleep(100_000)
            client.sendRaw([0x03])
            let stop = try XCTUnwrap(client.receive(), "round \(round)")
            XCTAssertTrue(stop.hasPrefix("T02thread:") || stop.hasPrefix("W"), "round \(round): \(stop)")
            if stop.hasPrefix("W") { break } // the guest finished first: nothing left to stop
            stops += 1
            for thread in ["1", "2"] {
                XCTAssertEqual(client.ask("Hg" + thread), "OK")
                let registers = try XCTUnwrap(client.ask("g"))
                XCTAssertFalse(registers.hasPrefix("E"), "vCPU \(thread) in round \(round): \(registers)")
            }
        }
        print("smp-stress stopped \(stops) times with both vCPUs busy")
        XCTAssertGreaterThan(stops, 0, "the guest finished before the first stop: give it more iterations")
        XCTAssertEqual(client.ask("D"), "OK")
        XCTAssertEqual(finished.wait(timeout: .now() + 250), .success, "vmm did not finish after the detach")
        let vmm = try XCTUnwrap(result())
        XCTAssertEqual(vmm.status, 1, vmm.standardOutput + vmm.standardError)
        XCTAssertTrue(vmm.standardOutput.contains("PASS\n"), vmm.standardOutput)
    }
}
