#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Foundation
import TestSupport
import XCTest

/// Debian's gdb against vmm's stub (`--gdb`), on the gdbtarget guest (Tests/Guests/pvh64/gdbtarget.c):
/// break at a symbol of its ELF, read a variable, single-step, watch a variable, detach; the guest
/// then runs to PASS. Every run has a watchdog: vmm's --timeout and the process timeouts.
final class GDBStubGuestTests: XCTestCase {
    private struct Session {
        let gdb: ProcessResult
        let vmm: ProcessResult
    }

    private func requireGDB() throws {
        guard HostProcess.run("gdb", ["--version"], timeout: 30).status == 0 else {
            throw XCTSkip("gdb is not installed here (apt-get install gdb)")
        }
    }

    /// vmm with `--gdb-wait` in the background, gdb in batch mode running `commands` against it.
    private func debug(backend: String, cpus: Int = 1, guest: String = "gdbtarget", _ commands: [String]) throws -> Session {
        try requireGDB()
        let kernel = try GuestKernels.path(guest)
        let port = try EndToEnd.freeLoopbackPort()
        let vmmBinary = try VMMBinary.path()
        let finished = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var vmm: ProcessResult?
        DispatchQueue.global().async {
            vmm = HostProcess.run(vmmBinary, ["--backend", backend, "--cpus", "\(cpus)", "--timeout", "200",
                                              "--gdb", "tcp:127.0.0.1:\(port)", "--gdb-wait", kernel], timeout: 260)
            finished.signal()
        }
        // gdb retries a refused connection (tcp auto-retry) until vmm listens.
        let script = ["set pagination off", "set confirm off", "target remote 127.0.0.1:\(port)"] + commands
        let gdb = HostProcess.run("gdb", ["-batch", "-nx"] + script.flatMap { ["-ex", $0] } + [kernel], timeout: 240)
        XCTAssertFalse(gdb.timedOut, "gdb outlived its watchdog:\n\(gdb.standardOutput)\n\(gdb.standardError)")
        if finished.wait(timeout: .now() + 270) == .timedOut { XCTFail("vmm did not finish") }
        let result = try XCTUnwrap(vmm)
        XCTAssertFalse(result.timedOut, "vmm outlived its watchdog:\n\(result.standardError)")
        return Session(gdb: gdb, vmm: result)
    }

    private func assertGuestPassed(_ session: Session, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(session.vmm.status, 1, session.vmm.standardError, file: file, line: line)
        XCTAssertTrue(session.vmm.standardOutput.contains("gdbtarget: total 15\nPASS"), session.vmm.standardOutput, file: file, line: line)
    }

    private func assertContains(_ session: Session, _ expected: [String], file: StaticString = #filePath, line: UInt = #line) {
        let text = session.gdb.standardOutput + session.gdb.standardError
        for piece in expected { XCTAssertTrue(text.contains(piece), "gdb's output lacks '\(piece)':\n\(text)", file: file, line: line) }
    }

    /// What gdb does in each session up to the breakpoint: stop there and read state.
    private static func breakAndInspect(_ breakCommand: String) -> [String] {
        [breakCommand + " gdb_step_taken", "continue",
         "print/x (unsigned int)gdb_marker", "print (unsigned long)gdb_total", "print $rdi",
         "print/x $cr0 & 0x80000001", "print $cs", "print/x $efer & 0x500",
         "stepi", "print (unsigned long)$pc > (unsigned long)&gdb_step_taken", "print $mxcsr", "print $fctrl"]
    }

    private static let inspected = ["in gdb_step_taken ()", "$1 = 0x600dcafe", "$2 = 0", "$3 = 1",
                                    "$4 = 0x80000001", "$5 = 8", "$6 = 0x500", "$7 = 1", "$8 = [", "$9 = 895"]

    private static let watchFires = ["delete", "watch *(unsigned long *)&gdb_total", "continue",
                                     "print (unsigned long)gdb_total", "delete", "detach"]

    func testBreakpointStepAndWatchpointOnSoft() throws {
        let session = try debug(backend: "soft", cpus: 2, Self.breakAndInspect("break")
            + ["info threads", "monitor phys 0x100e60 4"] + Self.watchFires)
        assertContains(session, ["Breakpoint 1, 0x"] + Self.inspected
            + ["$8 = [ IM DM ZM OM UM PM ]", "Thread 1 (vCPU 0)", "Thread 2 (vCPU 1)", "100e60: fe ca 0d 60",
               "Hardware watchpoint 2: *(unsigned long *)&gdb_total", "Old value = 0", "New value = 1", "$10 = 1",
               "[Inferior 1 (Remote target) detached]"])
        assertGuestPassed(session)
    }

    func testHardwareBreakpointAndStepOnKVM() throws {
        try EndToEnd.requireKVM()
        let session = try debug(backend: "kvm", Self.breakAndInspect("hbreak") + ["delete", "detach"])
        assertContains(session, ["Breakpoint 1, 0x"] + Self.inspected + ["[Inferior 1 (Remote target) detached]"])
        assertGuestPassed(session)
    }

    /// KVM_GUESTDBG_USE_SW_BP: an INT3 written into the guest. kvm_pvm runs the guest's CPL0 code in
    /// KVM's instruction emulator, which cannot execute INT3: vmm reports it as a host limitation.
    func testSoftwareBreakpointOnKVM() throws {
        try EndToEnd.requireKVM()
        let session = try debug(backend: "kvm", Self.breakAndInspect("break") + ["delete", "detach"])
        if EndToEnd.isPVMHost && session.vmm.standardError.contains("host KVM limitation") {
            throw XCTSkip("PVM host limitation: KVM's instruction emulator, which runs the guest's CPL0 code here, "
                + "cannot execute the INT3 of a software breakpoint (\(session.vmm.standardError.split(separator: "\n").last ?? ""))")
        }
        assertContains(session, ["Breakpoint 1, 0x"] + Self.inspected + ["[Inferior 1 (Remote target) detached]"])
        assertGuestPassed(session)
    }

    /// KVM_GUESTDBG_USE_HW_BP with a data breakpoint. KVM's instruction emulator checks instruction
    /// breakpoints but not data breakpoints, so under kvm_pvm (CPL0 code emulated) the write goes unseen.
    func testWatchpointOnKVM() throws {
        try EndToEnd.requireKVM()
        let session = try debug(backend: "kvm", ["hbreak gdb_step_taken", "continue"] + Self.watchFires)
        let text = session.gdb.standardOutput + session.gdb.standardError
        if EndToEnd.isPVMHost && !text.contains("Old value = 0") && text.contains("exited normally") {
            throw XCTSkip("PVM host limitation: KVM's instruction emulator, which runs the guest's CPL0 code here, "
                + "does not check data breakpoints, so the watched write ran without a stop")
        }
        assertContains(session, ["Hardware watchpoint 2: *(unsigned long *)&gdb_total", "Old value = 0", "New value = 1",
                                 "[Inferior 1 (Remote target) detached]"])
        assertGuestPassed(session)
    }

    /// An ELF32 kernel gets the i386 description: 32-bit registers by their i386 names.
    func testA32BitGuestOnSoft() throws {
        let session = try debug(backend: "soft", guest: "hello", ["break guest_main", "continue", "print/x $eip == &guest_main",
                                                                  "stepi", "print $eip > &guest_main", "print $cs", "detach"])
        assertContains(session, ["Breakpoint 1, 0x", "in guest_main ()", "$1 = 0x1", "$2 = 1", "$3 = 16",
                                 "[Inferior 1 (Remote target) detached]"])
        XCTAssertEqual(session.vmm.status, 1, session.vmm.standardError)
        XCTAssertTrue(session.vmm.standardOutput.contains("Hello from a multiboot guest"), session.vmm.standardOutput)
    }

    func testAPortInUseIsOneLineWithStatus2() throws {
        let kernel = try GuestKernels.path("gdbtarget")
        let (holder, port) = try EndToEnd.loopbackSocket(listening: true)
        defer { close(holder) }
        let result = try EndToEnd.vmm(["--backend", "soft", "--gdb", "tcp:127.0.0.1:\(port)", kernel])
        XCTAssertEqual(result.status, 2, result.standardError)
        XCTAssertEqual(result.standardError, "vmm: gdb stub: cannot listen on 127.0.0.1:\(port): Address already in use\n")
    }

    func testBadGDBOptionsAreOneLineWithStatus2() throws {
        let kernel = try GuestKernels.path("gdbtarget")
        for (arguments, message) in [(["--gdb", "1234"], "'1234' is not a gdb address"),
                                     (["--gdb", "tcp:127.0.0.1:99999"], "is not a gdb address"),
                                     (["--gdb-wait"], "--gdb-wait needs --gdb")] {
            let result = try EndToEnd.vmm(["--backend", "soft"] + arguments + [kernel])
            XCTAssertEqual(result.status, 2, "\(arguments): \(result.standardError)")
            XCTAssertEqual(result.standardError.split(separator: "\n").count, 1, result.standardError)
            XCTAssertTrue(result.standardError.contains(message), result.standardError)
        }
    }
}
