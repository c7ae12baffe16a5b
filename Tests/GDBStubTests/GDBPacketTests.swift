import FuzzTargets
import GDBStub
import XCTest

/// The packet layer (gdb manual, "Overview" and "Binary Data" of the Remote Protocol): framing,
/// checksums, escapes, and what a malformed or hostile stream gets.
final class GDBPacketTests: XCTestCase {
    private func inputs(_ text: String) -> [GDBInput] { inputs(Array(text.utf8)) }

    private func inputs(_ bytes: [UInt8]) -> [GDBInput] {
        var reader = GDBPacketReader()
        return bytes.compactMap { reader.feed($0) }
    }

    func testAPacketWithItsChecksumIsTaken() {
        // "g" is 0x67; "qSupported" sums to 0x37 modulo 256 (as gdb sends it: $qSupported#37).
        XCTAssertEqual(inputs("$g#67"), [.packet(Array("g".utf8))])
        XCTAssertEqual(inputs("$qSupported#37"), [.packet(Array("qSupported".utf8))])
        XCTAssertEqual(inputs("$#00"), [.packet([])])
    }

    func testChecksumDigitsInEitherCase() {
        XCTAssertEqual(inputs("$m0,1#FA"), inputs("$m0,1#fa"))
        XCTAssertEqual(inputs("$m0,1#fa"), [.packet(Array("m0,1".utf8))])
    }

    func testAWrongChecksumIsRejectedAndTheNextPacketStillArrives() {
        let events = inputs("$g#68$g#67")
        XCTAssertEqual(events.count, 2)
        guard case .rejected = events[0] else { return XCTFail("\(events)") }
        XCTAssertEqual(events[1], .packet(Array("g".utf8)))
    }

    func testBadChecksumDigitsAreRejected() {
        guard case .rejected = inputs("$g#zz").first else { return XCTFail() }
        XCTAssertEqual(inputs("$g#6"), []) // still waiting for the second digit
        guard case .rejected = inputs("$g#6z").first else { return XCTFail() }
    }

    func testAcknowledgementsAndInterruptOutsidePackets() {
        XCTAssertEqual(inputs("+-\u{03}"), [.acknowledged, .retransmitRequested, .interrupt])
        // Noise between packets means nothing; inside a packet, 0x03 and '+' are payload.
        XCTAssertEqual(inputs("xyz$+\u{03}#2e"), [.packet([0x2b, 0x03])])
    }

    func testEscapesAreUndoneAndCountInTheChecksumAsSent() {
        // X0,1:<0x23> with '#' escaped: '}' then 0x23 ^ 0x20 = 0x03.
        var payload = Array("X0,1:".utf8) + [0x7d, 0x03]
        let sum = payload.reduce(UInt8(0), &+)
        payload = [UInt8(ascii: "$")] + payload + [UInt8(ascii: "#")] + GDBHex.encode([sum])
        XCTAssertEqual(inputs(payload), [.packet(Array("X0,1:".utf8) + [0x23])])
    }

    func testRunLengthMarkersInInputAreOrdinaryBytes() {
        let sum = Array("0*3".utf8).reduce(UInt8(0), &+)
        XCTAssertEqual(inputs("$0*3#" + String(sum, radix: 16)), [.packet(Array("0*3".utf8))])
    }

    func testAStartOfPacketInsideAPacketBeginsAfresh() {
        XCTAssertEqual(inputs("$ga$g#67"), [.packet(Array("g".utf8))])
    }

    func testAnOverlongPacketIsRejectedWithoutGrowingWithoutBound() {
        let long = [UInt8(ascii: "$")] + [UInt8](repeating: UInt8(ascii: "a"), count: GDBPacketReader.maximumPayload * 3) + Array("#00".utf8)
        let events = inputs(long)
        XCTAssertEqual(events.count, 1)
        guard case .rejected = events[0] else { return XCTFail("\(events)") }
    }

    func testFramingEscapesWhatWouldReadAsFramingAndChecksumsIt() {
        let framed = GDBPacketWriter.frame(Array("a$b#c}d*e".utf8))
        XCTAssertEqual(String(decoding: framed.prefix(1), as: UTF8.self), "$")
        // The reader gets back exactly the payload, so escapes and checksum agree.
        XCTAssertEqual(inputs(framed), [.packet(Array("a$b#c}d*e".utf8))])
        XCTAssertFalse(framed.dropFirst().dropLast(3).contains(UInt8(ascii: "$")))
        XCTAssertFalse(framed.dropFirst().dropLast(3).contains(UInt8(ascii: "*")))
        XCTAssertEqual(String(decoding: GDBPacketWriter.frame(Array("OK".utf8)), as: UTF8.self), "$OK#9a")
    }

    func testRandomBytesNeverTrapTheReader() {
        let seed = UInt64(ProcessInfo.processInfo.environment["GDB_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64.max)
        print("GDBPacketTests random seed: \(seed) (set GDB_FUZZ_SEED to repeat)")
        var generator = SplitMix64(seed: seed)
        var reader = GDBPacketReader()
        let alphabet: [UInt8] = Array("$#}*+-0123456789abcdefgXmM,:;".utf8) + [0x03, 0x00, 0xff]
        var packets = 0
        for _ in 0..<200_000 {
            let byte = generator.next() % 4 == 0 ? UInt8(truncatingIfNeeded: generator.next()) : alphabet[Int(generator.next() % UInt64(alphabet.count))]
            if case .packet = reader.feed(byte) { packets += 1 }
        }
        // A well-formed packet still arrives after all that: the first '$' may end a checksum the
        // noise began (and is rejected), the second packet is whole whatever state the noise left.
        var last: GDBInput?
        for byte in Array("$g#67$g#67".utf8) { last = reader.feed(byte) ?? last }
        XCTAssertEqual(last, .packet(Array("g".utf8)))
        XCTAssertGreaterThanOrEqual(packets, 0)
    }

    func testHexHelpers() {
        XCTAssertEqual(GDBHex.number(Array("ffffffff81000000".utf8)), 0xffff_ffff_8100_0000)
        XCTAssertNil(GDBHex.number(Array("10000000000000000".utf8)))
        XCTAssertNil(GDBHex.number(Array("".utf8)))
        XCTAssertNil(GDBHex.number(Array("12g".utf8)))
        XCTAssertEqual(GDBHex.decode(Array("00ff7A".utf8)), [0x00, 0xff, 0x7a])
        XCTAssertNil(GDBHex.decode(Array("abc".utf8)))
        XCTAssertEqual(GDBHex.littleEndian(0x1122_3344, bytes: 4), [0x44, 0x33, 0x22, 0x11])
        XCTAssertEqual(GDBHex.littleEndianValue([0x44, 0x33, 0x22, 0x11]), 0x1122_3344)
    }

    func testListenAddresses() throws {
        XCTAssertEqual(try GDBListenAddress.parse("tcp:127.0.0.1:1234"), GDBListenAddress(host: "127.0.0.1", port: 1234))
        XCTAssertEqual(try GDBListenAddress.parse("tcp::1234"), GDBListenAddress(host: "127.0.0.1", port: 1234))
        XCTAssertEqual(try GDBListenAddress.parse("tcp:1234"), GDBListenAddress(host: "127.0.0.1", port: 1234))
        XCTAssertEqual(try GDBListenAddress.parse("tcp:localhost:0"), GDBListenAddress(host: "127.0.0.1", port: 0))
        XCTAssertEqual(try GDBListenAddress.parse("tcp:0.0.0.0:9"), GDBListenAddress(host: "0.0.0.0", port: 9))
        for bad in ["1234", "tcp:", "tcp:host:12", "tcp:127.0.0.1:65536", "tcp:127.0.0.1:-1", "udp::1", "tcp:1.2.3:4", "tcp:1.2.3.4:"] {
            XCTAssertThrowsError(try GDBListenAddress.parse(bad), bad)
        }
    }
}
