import Glibc
import XCTest
import VMMKit

final class GuestMemoryTests: XCTestCase {
    func makeMemory() throws -> GuestMemory {
        let memory = GuestMemory()
        try memory.addRegion(name: "RAM", at: 0, size: 0x10000)
        try memory.addRegion(name: "ROM", at: 0x20000, size: 0x1000, kind: .rom)
        return memory
    }

    func testReadsAndWritesInsideRAM() throws {
        let memory = try makeMemory()
        try memory.write(UInt32(0xdead_beef), at: 0xfffc)
        XCTAssertEqual(try memory.read(UInt32.self, at: 0xfffc), 0xdead_beef)
        XCTAssertEqual(try memory.readBytes(at: 0xfffc, count: 4), [0xef, 0xbe, 0xad, 0xde], "little-endian")
    }

    func testAccessesPastTheEndAreRejected() throws {
        let memory = try makeMemory()
        XCTAssertThrowsError(try memory.read(UInt32.self, at: 0xfffd)) {
            XCTAssertEqual($0 as? GuestMemoryError, .outOfBounds(address: 0xfffd, length: 4))
        }
        XCTAssertThrowsError(try memory.write(UInt64(1), at: 0x1_0000))
        XCTAssertThrowsError(try memory.readBytes(at: 0x1_8000, count: 1), "the gap between regions")
        XCTAssertThrowsError(try memory.read(UInt8.self, at: UInt64.max))
        XCTAssertNil(memory.hostPointer(at: 0xffff_ffff_ffff_fff0, length: 0x20), "a wrapping range")
    }

    func testAFailedWriteChangesNothing() throws {
        let memory = try makeMemory()
        XCTAssertThrowsError(try memory.write([UInt8](repeating: 0xff, count: 16), at: 0xfff8))
        XCTAssertEqual(try memory.readBytes(at: 0xfff8, count: 8), [UInt8](repeating: 0, count: 8))
    }

    func testROMIsReadableButNotWritable() throws {
        let memory = try makeMemory()
        XCTAssertEqual(try memory.read(UInt16.self, at: 0x20000), 0)
        XCTAssertThrowsError(try memory.write(UInt8(1), at: 0x20010)) {
            XCTAssertEqual($0 as? GuestMemoryError, .readOnly(address: 0x20010))
        }
        XCTAssertEqual(memory.ramSize, 0x10000, "ROM is not RAM")
    }

    /// A reset's RAM: every RAM byte reads zero again, ROM keeps what it holds.
    func testClearRAMZeroesRAMAndKeepsROM() throws {
        let memory = try makeMemory()
        try memory.write([UInt8](repeating: 0xa5, count: 0x10000), at: 0)
        let rom = try XCTUnwrap(memory.regions.first { $0.kind == .rom })
        rom.host.storeBytes(of: UInt32(0x1234_5678), as: UInt32.self)
        memory.clearRAM()
        XCTAssertEqual(try memory.readBytes(at: 0, count: 0x10000), [UInt8](repeating: 0, count: 0x10000))
        XCTAssertEqual(try memory.read(UInt32.self, at: 0x20000), 0x1234_5678)
        try memory.write(UInt8(7), at: 0x8000)
        XCTAssertEqual(try memory.read(UInt8.self, at: 0x8000), 7, "RAM works after clearing")
    }

    func testOverlappingRegionsAreRejected() throws {
        let memory = try makeMemory()
        XCTAssertThrowsError(try memory.addRegion(name: "more", at: 0xf000, size: 0x2000)) {
            XCTAssertEqual($0 as? GuestMemoryError, .overlappingRegions("RAM", "more"))
        }
    }

    func testUnalignedOrEmptyRegionsAreRejected() {
        let memory = GuestMemory()
        XCTAssertThrowsError(try memory.addRegion(name: "zero", at: 0, size: 0))
        XCTAssertThrowsError(try memory.addRegion(name: "odd", at: 0, size: 0x1001))
        XCTAssertThrowsError(try memory.addRegion(name: "unaligned", at: 0x800, size: 0x1000))
    }

    /// RAM moved into a memfd keeps what was written, at the same host address, and is the same
    /// memory another mapping of the file sees (as a vhost-user back-end maps it); ROM stays private.
    func testSharedRAMIsTheFilesPagesAtTheSameAddress() throws {
        let memory = try makeMemory()
        try memory.write(UInt32(0xC0FF_EE00), at: 0x3000)
        let before = try XCTUnwrap(memory.regions.first { $0.kind == .ram })
        try memory.shareRAM()
        try memory.shareRAM()
        let ram = try XCTUnwrap(memory.regions.first { $0.kind == .ram })
        XCTAssertEqual(ram.host, before.host)
        XCTAssertNil(memory.regions.first { $0.kind == .rom }?.sharedFile)
        let file = try XCTUnwrap(ram.sharedFile)
        XCTAssertEqual(try memory.read(UInt32.self, at: 0x3000), 0xC0FF_EE00)
        let other = try XCTUnwrap(mmap(nil, Int(ram.size), PROT_READ | PROT_WRITE, MAP_SHARED, file, 0))
        defer { munmap(other, Int(ram.size)) }
        XCTAssertEqual(other.load(fromByteOffset: 0x3000, as: UInt32.self), 0xC0FF_EE00, "carried over into the file")
        other.storeBytes(of: UInt32(0x1234), toByteOffset: 0x5000, as: UInt32.self)
        XCTAssertEqual(try memory.read(UInt32.self, at: 0x5000), 0x1234, "the other side's write")
        memory.clearRAM()
        XCTAssertEqual(other.load(fromByteOffset: 0x3000, as: UInt32.self), 0, "cleared for both")
        XCTAssertEqual(try memory.read(UInt32.self, at: 0x5000), 0)
    }
}
