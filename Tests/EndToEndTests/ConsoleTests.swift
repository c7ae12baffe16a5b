#if canImport(Glibc)
import Glibc
#endif
import Foundation
import TestSupport
import XCTest

/// vmm at a terminal, as a user meets it: every key reaches the guest (Ctrl-C, Ctrl-Z and Ctrl-\
/// too), Ctrl-A is the escape for vmm's own commands, signals from outside stop the guest cleanly,
/// and the terminal is always put back as it was. The guests run on the Soft backend.
final class ConsoleTests: XCTestCase {
    private func session(_ guest: String, _ extra: [String] = []) throws -> TerminalSession {
        try TerminalSession(try VMMBinary.path(), ["--backend", "soft"] + extra + [try GuestKernels.path(guest)])
    }

    private func sameSettings(_ a: termios, _ b: termios) -> Bool {
        a.c_lflag == b.c_lflag && a.c_iflag == b.c_iflag && a.c_oflag == b.c_oflag
    }

    /// serialecho prints back one line upper-cased: the control keys arrive as bytes, Ctrl-A Ctrl-A
    /// as one Ctrl-A, and Ctrl-A h lists the keys on stderr without reaching the guest.
    func testEveryKeyReachesTheGuestAndCtrlAIsTheEscape() throws {
        let terminal = try session("serialecho")
        let before = terminal.attributes
        XCTAssertTrue(terminal.waitForScreen(containing: "serialecho: ready"), terminal.screenText)
        let running = terminal.attributes
        XCTAssertEqual(running.c_lflag & tcflag_t(ICANON | ECHO | ISIG), 0, "raw, with the signal keys off, while the guest runs")
        terminal.type([0x01, UInt8(ascii: "h")])
        terminal.type(Array("ab".utf8) + [0x03, 0x1a, 0x1c, 0x01, 0x01] + Array("c\n".utf8))
        let end = terminal.waitForExit()
        XCTAssertFalse(end.timedOut)
        XCTAssertEqual(end.status, 1, end.standardError)
        XCTAssertTrue(terminal.screenText.contains("serialecho: AB\u{03}\u{1a}\u{1c}\u{01}C\r\n"), terminal.screenText.debugDescription)
        XCTAssertTrue(end.standardError.contains("Ctrl-A x    quit vmm"), end.standardError)
        XCTAssertTrue(sameSettings(terminal.attributes, before), "the terminal is restored")
    }

    func testCtrlAXQuitsWithStatusZeroAndCtrlASPrintsStatistics() throws {
        let terminal = try session("idle")
        let before = terminal.attributes
        XCTAssertTrue(terminal.waitForScreen(containing: "idle"), terminal.screenText)
        terminal.type([0x01, UInt8(ascii: "s")])
        terminal.type([0x01, UInt8(ascii: "x")])
        let end = terminal.waitForExit()
        XCTAssertEqual(end.status, 0, end.standardError)
        XCTAssertTrue(end.standardError.contains("interrupts injected"), end.standardError)
        XCTAssertTrue(end.standardError.hasSuffix("vmm: quit from the console (Ctrl-A x)\n"), end.standardError)
        XCTAssertTrue(sameSettings(terminal.attributes, before), "the terminal is restored")
    }

    func testAnotherEscapeKeyAndNone() throws {
        let terminal = try session("idle", ["--escape", "^]"])
        XCTAssertTrue(terminal.waitForScreen(containing: "idle"), terminal.screenText)
        terminal.type([0x01, UInt8(ascii: "x"), 0x1d, UInt8(ascii: "x")])
        let end = terminal.waitForExit()
        XCTAssertEqual(end.status, 0, end.standardError)
        XCTAssertTrue(end.standardError.contains("(Ctrl-] x)"), end.standardError)

        let plain = try session("serialecho", ["--escape", "none"])
        XCTAssertTrue(plain.waitForScreen(containing: "serialecho: ready"), plain.screenText)
        plain.type([0x01, UInt8(ascii: "x")] + Array("\n".utf8))
        XCTAssertEqual(plain.waitForExit().status, 1)
        XCTAssertTrue(plain.screenText.contains("serialecho: \u{01}X\r\n"), plain.screenText.debugDescription)
    }

    /// SIGHUP (the terminal closing), SIGTERM, SIGINT and SIGQUIT from outside: status 130, one line
    /// naming the signal, no crash report, the terminal restored.
    func testSignalsFromOutsideStopTheGuestCleanly() throws {
        for (signal, name) in [(SIGHUP, "SIGHUP"), (SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGQUIT, "SIGQUIT")] {
            let terminal = try session("idle")
            let before = terminal.attributes
            XCTAssertTrue(terminal.waitForScreen(containing: "idle"), terminal.screenText)
            kill(terminal.process.processIdentifier, signal)
            let end = terminal.waitForExit()
            XCTAssertEqual(end.status, 130, "\(name): \(end.standardError)")
            XCTAssertTrue(end.standardError.hasPrefix("vmm: stopped: ") && end.standardError.contains(name), end.standardError)
            XCTAssertFalse(end.standardError.contains("crashed"), end.standardError)
            XCTAssertTrue(sameSettings(terminal.attributes, before), "\(name): the terminal is restored")
        }
    }

    func testABadEscapeKeyIsRefused() throws {
        let result = try EndToEnd.vmm(["--escape", "ctrl-1", try GuestKernels.path("hello")], timeout: 30)
        XCTAssertEqual(result.status, 2)
        XCTAssertTrue(result.standardError.hasPrefix("vmm: 'ctrl-1' is not a console escape key"), result.standardError)
    }
}
