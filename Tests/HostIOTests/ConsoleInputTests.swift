import HostIO
import Synchronization
import VMMKit
import XCTest

/// The console escape between a terminal and the guest, driven by a source the test feeds by hand:
/// commands are taken out, everything else reaches the guest in order, and the guest's flow control
/// (taking fewer bytes than offered) never loses or repeats a byte.
final class ConsoleInputTests: XCTestCase {
    /// A source whose bytes the test offers; `offer` returns how many the console consumed.
    private final class HandFedSource: ByteSource, @unchecked Sendable {
        var deliver: Deliver = { _ in 0 }
        func start(delivering deliver: @escaping Deliver) throws { self.deliver = deliver }
        func noteSpaceAvailable() {}
        func stop() {}
        func offer(_ bytes: [UInt8]) -> Int { bytes.withUnsafeBytes { deliver($0) } }
    }

    private final class Log: @unchecked Sendable {
        let events = Mutex<[String]>([])
        func add(_ event: String) { events.withLock { $0.append(event) } }
        var all: [String] { events.withLock { $0 } }
    }

    private func console(_ source: HandFedSource, log: Log, escape: UInt8 = 0x01) -> ConsoleInput {
        ConsoleInput(wrapping: source, escape: escape, commands: ConsoleInput.Commands(
            quit: { log.add("quit") }, sendBreak: { log.add("break") }, statistics: { "stats" },
            print: { log.add("print " + $0.prefix(11)) }))
    }

    func testCommandsAreTakenOutAndTheRestArrivesInOrder() throws {
        let source = HandFedSource(), log = Log()
        var guest: [UInt8] = []
        try console(source, log: log).start { bytes in guest += bytes; return bytes.count }
        let input: [UInt8] = Array("ab".utf8) + [1, UInt8(ascii: "b"), 1, 1, UInt8(ascii: "c"), 1, UInt8(ascii: "s"),
                                               1, UInt8(ascii: "?"), 1, UInt8(ascii: "h"), 1]
        XCTAssertEqual(source.offer(input), input.count)
        XCTAssertEqual(source.offer([UInt8(ascii: "x"), 3]), 2, "an escape split across reads still works")
        XCTAssertEqual(guest, Array("ab".utf8) + [1, UInt8(ascii: "c"), 3])
        XCTAssertEqual(log.all, ["break", "print stats", "print Ctrl-A x   ", "quit"])
    }

    func testAGuestWithNoRoomTakesTheRestLater() throws {
        let source = HandFedSource(), log = Log()
        var guest: [UInt8] = []
        var room = 1
        try console(source, log: log).start { bytes in
            let taken = min(room, bytes.count)
            guest += bytes.prefix(taken)
            room -= taken
            return taken
        }
        let input: [UInt8] = [UInt8(ascii: "a"), UInt8(ascii: "b"), 1, 1, UInt8(ascii: "c")]
        XCTAssertEqual(source.offer(input), 1, "only 'a' fitted")
        room = 1
        XCTAssertEqual(source.offer(Array(input[1...])), 2, "'b' and the escape")
        XCTAssertEqual(source.offer(Array(input[3...])), 0, "no room for the escaped Ctrl-A: it waits")
        room = 5
        XCTAssertEqual(source.offer(Array(input[3...])), 2)
        XCTAssertEqual(guest, [UInt8(ascii: "a"), UInt8(ascii: "b"), 1, UInt8(ascii: "c")])
        XCTAssertEqual(log.all, [])
    }

    func testEscapeKeysParse() throws {
        XCTAssertEqual(try ConsoleInput.escape(parsing: "ctrl-a"), 0x01)
        XCTAssertEqual(try ConsoleInput.escape(parsing: "^]"), 0x1d)
        XCTAssertEqual(try ConsoleInput.escape(parsing: "C-b"), 0x02)
        XCTAssertEqual(try ConsoleInput.escape(parsing: "~"), UInt8(ascii: "~"))
        XCTAssertNil(try ConsoleInput.escape(parsing: "none"))
        for bad in ["ctrl-1", "", "ab", "é"] {
            XCTAssertThrowsError(try ConsoleInput.escape(parsing: bad), bad)
        }
        XCTAssertEqual(ConsoleInput.keyName(0x1d), "Ctrl-]")
    }
}
