import VhostUser
import XCTest

/// The message codec (QEMU's docs/interop/vhost-user.rst, "Message Specification"): headers and
/// payloads byte for byte, and the checks a reply header must pass.
final class VhostUserMessageTests: XCTestCase {
    func testRequestHeaderIsRequestFlagsSizeLittleEndian() {
        let message = VhostUserMessage(.setVringNumber, payload: VhostUserPayload.vringState(index: 1, number: 256))
        XCTAssertEqual(message.encoded, [8, 0, 0, 0, 1, 0, 0, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0])
        XCTAssertEqual(VhostUserMessage(.setOwner, needReply: true).encoded, [3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0])
    }

    func testVringAddressPutsTheUsedRingBeforeTheAvailableRing() {
        let payload = VhostUserPayload.vringAddress(index: 2, descriptorTable: 0x1000, usedRing: 0x3000, availableRing: 0x2000)
        XCTAssertEqual(payload.count, 40)
        XCTAssertEqual(Array(payload[0..<8]), [2, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(payload[8..<16]), VhostUserPayload.u64(0x1000))
        XCTAssertEqual(Array(payload[16..<24]), VhostUserPayload.u64(0x3000))
        XCTAssertEqual(Array(payload[24..<32]), VhostUserPayload.u64(0x2000))
        XCTAssertEqual(Array(payload[32..<40]), VhostUserPayload.u64(0))
    }

    func testMemoryTableIsCountPaddingAndRegions() {
        let regions = [VhostUserPayload.MemoryRegion(guestAddress: 0, size: 0x1000, userAddress: 0x7000_0000, mmapOffset: 0),
                       VhostUserPayload.MemoryRegion(guestAddress: 1 << 32, size: 0x2000, userAddress: 0x8000_0000, mmapOffset: 0x10)]
        let payload = VhostUserPayload.memoryTable(regions)
        XCTAssertEqual(payload.count, 8 + 2 * 32)
        XCTAssertEqual(Array(payload[0..<8]), [2, 0, 0, 0, 0, 0, 0, 0])
        XCTAssertEqual(Array(payload[40..<48]), VhostUserPayload.u64(1 << 32))
        XCTAssertEqual(Array(payload[48..<56]), VhostUserPayload.u64(0x2000))
        XCTAssertEqual(Array(payload[56..<64]), VhostUserPayload.u64(0x8000_0000))
        XCTAssertEqual(Array(payload[64..<72]), VhostUserPayload.u64(0x10))
    }

    func testReplyHeaderChecks() throws {
        func header(_ request: UInt32, flags: UInt32, size: UInt32) -> VhostUserMessage.Header {
            VhostUserMessage.Header(Array(VhostUserMessage(request: request, flags: flags, payload: []).encoded.prefix(8))
                + Array(VhostUserPayload.u64(UInt64(size)).prefix(4)))
        }
        XCTAssertNoThrow(try header(1, flags: 0x5, size: 8).check(answering: .getFeatures))
        XCTAssertThrowsError(try header(1, flags: 0x6, size: 8).check(answering: .getFeatures)) {
            XCTAssertEqual($0 as? VhostUserError, .badReplyVersion(0x6))
        }
        XCTAssertThrowsError(try header(1, flags: 0x1, size: 8).check(answering: .getFeatures)) {
            XCTAssertEqual($0 as? VhostUserError, .notAReply(1))
        }
        XCTAssertThrowsError(try header(15, flags: 0x5, size: 8).check(answering: .getFeatures)) {
            XCTAssertEqual($0 as? VhostUserError, .replyToOtherRequest(sent: 1, got: 15))
        }
        XCTAssertThrowsError(try header(1, flags: 0x5, size: 0xFFFF_FFFF).check(answering: .getFeatures)) {
            XCTAssertEqual($0 as? VhostUserError, .replyTooLarge(0xFFFF_FFFF))
        }
    }

    func testPayloadReadersCheckSizesExactly() {
        XCTAssertThrowsError(try VhostUserPayload.u64(of: [1, 2, 3], for: .getFeatures)) {
            XCTAssertEqual($0 as? VhostUserError, .replySize(request: 1, expected: 8, got: 3))
        }
        XCTAssertEqual(try VhostUserPayload.vringNumber(of: VhostUserPayload.vringState(index: 3, number: 77), index: 3), 77)
        XCTAssertThrowsError(try VhostUserPayload.vringNumber(of: VhostUserPayload.vringState(index: 4, number: 77), index: 3)) {
            XCTAssertEqual($0 as? VhostUserError, .replyForOtherVring(asked: 3, got: 4))
        }
        let good = VhostUserPayload.configuration(offset: 0, size: 4).prefix(12) + [1, 2, 3, 4]
        XCTAssertEqual(try VhostUserPayload.configurationBytes(of: Array(good), offset: 0, size: 4), [1, 2, 3, 4])
        XCTAssertThrowsError(try VhostUserPayload.configurationBytes(of: [], offset: 0, size: 4)) {
            XCTAssertEqual($0 as? VhostUserError, .configurationRefused)
        }
        XCTAssertThrowsError(try VhostUserPayload.configurationBytes(of: Array(good.prefix(14)), offset: 0, size: 4))
        let shifted = VhostUserPayload.configuration(offset: 8, size: 4)
        XCTAssertThrowsError(try VhostUserPayload.configurationBytes(of: shifted, offset: 0, size: 4)) {
            XCTAssertEqual($0 as? VhostUserError, .configurationMismatch)
        }
    }
}
