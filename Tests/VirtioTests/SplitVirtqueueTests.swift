import Foundation
import FuzzTargets
import Virtio
import VMMKit
import XCTest

/// The split virtqueue against well-formed and hostile drivers (virtio 1.2, 2.7): what a chain
/// holds, what the used ring gets, interrupt suppression, and every malformed ring refused without
/// touching memory outside guest RAM or looping.
final class SplitVirtqueueTests: XCTestCase {
    typealias D = DriverSide

    func testChainOfReadableThenWritableBuffersAndItsCompletion() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        try driver.memory.write(Array("request!".utf8), at: D.buffers)
        try driver.descriptor(3, address: D.buffers, length: 8, flags: D.next, next: 5)
        try driver.descriptor(5, address: D.buffers + 0x100, length: 4, flags: D.next | D.write, next: 6)
        try driver.descriptor(6, address: D.buffers + 0x200, length: 2, flags: D.write)
        XCTAssertEqual(queue.pop(), .empty)
        try driver.offer(3)
        XCTAssertEqual(queue.pop(), .chain)
        let chain = queue.chain
        XCTAssertEqual(chain.head, 3)
        XCTAssertEqual(chain.count, 3)
        XCTAssertEqual(chain.readableLength, 8)
        XCTAssertEqual(chain.writableLength, 6)
        var bytes = [UInt8](repeating: 0, count: 5)
        XCTAssertEqual(bytes.withUnsafeMutableBytes { chain.read(from: 3, into: $0) }, 5)
        XCTAssertEqual(String(decoding: bytes, as: UTF8.self), "uest!")
        let reply: [UInt8] = [1, 2, 3, 4, 5, 6, 7]
        XCTAssertEqual(reply.withUnsafeBytes { chain.write($0, at: 0) }, 6, "only six writable bytes")
        XCTAssertEqual(try driver.memory.readBytes(at: D.buffers + 0x100, count: 4), [1, 2, 3, 4])
        XCTAssertEqual(try driver.memory.readBytes(at: D.buffers + 0x200, count: 3), [5, 6, 0])
        XCTAssertEqual(driver.availableEvent, 1, "avail_event: notify once past the taken entry")
        queue.push(head: 3, written: 6)
        XCTAssertEqual(driver.usedIndex, 1)
        XCTAssertEqual(try driver.usedEntry(0).id, 3)
        XCTAssertEqual(try driver.usedEntry(0).length, 6)
        XCTAssertEqual(queue.pop(), .empty)
    }

    func testIndirectTable() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        let table = D.buffers + 0x1000
        try driver.descriptor(0, table: table, address: D.buffers, length: 16, flags: D.next, next: 1)
        try driver.descriptor(1, table: table, address: D.buffers + 0x100, length: 512, flags: D.write)
        try driver.descriptor(0, address: table, length: 32, flags: D.indirect)
        try driver.offer(0)
        XCTAssertEqual(queue.pop(), .chain)
        XCTAssertEqual(queue.chain.readableLength, 16)
        XCTAssertEqual(queue.chain.writableLength, 512)
        let plain = try driver.queue(features: 0)
        XCTAssertEqual(plain.pop(), .malformed(head: 0, .indirectNotNegotiated), "without the feature")
    }

    /// A malformed chain fails alone: its head is reported, and the next good chain still works.
    private func checkMalformed(_ expected: VirtqueueError, file: StaticString = #filePath, line: UInt = #line,
                                _ build: (DriverSide) throws -> Void) throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        try build(driver)
        try driver.offer(0)
        XCTAssertEqual(queue.pop(), .malformed(head: 0, expected), file: file, line: line)
        queue.push(head: 0, written: 0)
        try driver.descriptor(7, address: D.buffers, length: 1, flags: D.write)
        try driver.offer(7)
        XCTAssertEqual(queue.pop(), .chain, "a good request after the bad one", file: file, line: line)
        XCTAssertEqual(queue.chain.head, 7, file: file, line: line)
    }

    func testLoopingChainEnds() throws {
        try checkMalformed(.chainTooLong) { driver in
            try driver.descriptor(0, address: D.buffers, length: 8, flags: D.next, next: 1)
            try driver.descriptor(1, address: D.buffers, length: 8, flags: D.next, next: 0)
        }
        try checkMalformed(.chainTooLong) { driver in
            try driver.descriptor(0, address: D.buffers, length: 8, flags: D.next, next: 0)
        }
    }

    func testIndirectLoopAndChainLongerThanItsTableEnd() throws {
        try checkMalformed(.chainTooLong) { driver in
            let table = D.buffers + 0x1000
            for index in 0..<4 {
                try driver.descriptor(index, table: table, address: D.buffers, length: 8, flags: D.next,
                                      next: UInt16((index + 1) % 4))
            }
            try driver.descriptor(0, address: table, length: 64, flags: D.indirect)
        }
    }

    func testBuffersOutsideRAMZeroAndGiantLengths() throws {
        try checkMalformed(.outsideMemory(address: 0x4000_0000, length: 16)) { driver in
            try driver.descriptor(0, address: 0x4000_0000, length: 16)
        }
        try checkMalformed(.outsideMemory(address: 0xFFFF_FFFF_FFFF_FFF0, length: 0x20)) { driver in
            try driver.descriptor(0, address: 0xFFFF_FFFF_FFFF_FFF0, length: 0x20, flags: D.write)
        }
        try checkMalformed(.zeroLength) { driver in
            try driver.descriptor(0, address: D.buffers, length: 0)
        }
        try checkMalformed(.outsideMemory(address: D.buffers, length: 0xFFFF_FFFF)) { driver in
            try driver.descriptor(0, address: D.buffers, length: 0xFFFF_FFFF)
        }
        try checkMalformed(.outsideMemory(address: 0xF_F000, length: 0x2000)) { driver in
            try driver.descriptor(0, address: 0xF_F000, length: 0x2000, flags: D.write)
        }
    }

    func testMalformedIndirectTables() throws {
        let table = D.buffers + 0x1000
        try checkMalformed(.nestedIndirect) { driver in
            try driver.descriptor(0, table: table, address: table, length: 16, flags: D.indirect)
            try driver.descriptor(0, address: table, length: 16, flags: D.indirect)
        }
        try checkMalformed(.badIndirectLength(20)) { driver in
            try driver.descriptor(0, address: table, length: 20, flags: D.indirect)
        }
        try checkMalformed(.badIndirectLength(0)) { driver in
            try driver.descriptor(0, address: table, length: 0, flags: D.indirect)
        }
        try checkMalformed(.outsideMemory(address: 0x7000_0000, length: 0x1_0000)) { driver in
            try driver.descriptor(0, address: 0x7000_0000, length: 0x1_0000, flags: D.indirect)
        }
        try checkMalformed(.indirectWithNext) { driver in
            try driver.descriptor(0, address: table, length: 16, flags: D.indirect | D.next, next: 1)
        }
    }

    func testOrderAndNextIndexAreChecked() throws {
        try checkMalformed(.readableAfterWritable) { driver in
            try driver.descriptor(0, address: D.buffers, length: 8, flags: D.next | D.write, next: 1)
            try driver.descriptor(1, address: D.buffers, length: 8)
        }
        try checkMalformed(.nextOutOfRange(8)) { driver in
            try driver.descriptor(0, address: D.buffers, length: 8, flags: D.next, next: 8)
        }
    }

    func testBrokenRingsNeedAReset() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        try driver.offer(9)
        guard case let .broken(error) = queue.pop() else { return XCTFail("a head past the table") }
        XCTAssertEqual(error, .headOutOfRange(9))
        XCTAssertTrue(error.needsReset)
        let other = try DriverSide()
        let jumped = try other.queue()
        try other.setAvailableIndex(9)
        XCTAssertEqual(jumped.pop(), .broken(.availableIndexJump(from: 0, to: 9)))
    }

    func testLayoutIsChecked() throws {
        let driver = try DriverSide()
        for size: UInt16 in [0, 3, 100] {
            var layout = driver.layout
            layout.size = size
            XCTAssertThrowsError(try SplitVirtqueue(layout: layout, memory: driver.memory, features: 0)) {
                XCTAssertEqual($0 as? VirtqueueError, .invalidSize(size))
            }
        }
        var layout = driver.layout
        layout.usedRing = 0xF_FFF0
        XCTAssertThrowsError(try SplitVirtqueue(layout: layout, memory: driver.memory, features: 0)) {
            XCTAssertEqual($0 as? VirtqueueError, .ringOutsideMemory("used ring", 0xF_FFF0))
        }
        layout = driver.layout
        layout.descriptorTable = 0x1008
        XCTAssertThrowsError(try SplitVirtqueue(layout: layout, memory: driver.memory, features: 0)) {
            XCTAssertEqual($0 as? VirtqueueError, .misaligned("descriptor table", 0x1008))
        }
    }

    func testInterruptSuppression() throws {
        var driver = try DriverSide()
        let queue = try driver.queue()
        try driver.descriptor(0, address: D.buffers, length: 8, flags: D.write)
        // Event index: interrupt when the used index passes used_event.
        try driver.setUsedEvent(1)
        for _ in 0..<2 {
            try driver.offer(0)
            XCTAssertEqual(queue.pop(), .chain)
            queue.push(head: 0, written: 8)
        }
        XCTAssertTrue(queue.needsInterrupt(), "used index 0 -> 2 passes used_event 1")
        try driver.offer(0)
        XCTAssertEqual(queue.pop(), .chain)
        queue.push(head: 0, written: 8)
        XCTAssertFalse(queue.needsInterrupt(), "used_event 1 was passed already")
        XCTAssertFalse(queue.needsInterrupt(), "nothing new")

        var plainDriver = try DriverSide()
        let plain = try plainDriver.queue(features: 0)
        try plainDriver.descriptor(0, address: D.buffers, length: 8, flags: D.write)
        try plainDriver.setNoInterrupt(true)
        try plainDriver.offer(0)
        XCTAssertEqual(plain.pop(), .chain)
        plain.push(head: 0, written: 8)
        XCTAssertFalse(plain.needsInterrupt(), "NO_INTERRUPT")
        try plainDriver.setNoInterrupt(false)
        try plainDriver.offer(0)
        XCTAssertEqual(plain.pop(), .chain)
        plain.push(head: 0, written: 8)
        XCTAssertTrue(plain.needsInterrupt())
    }

    /// Random descriptor tables and rings: every pop ends with a chain whose segments all lie in
    /// guest RAM, a failed request, or a broken ring. Seed from VIRTQUEUE_FUZZ_SEED.
    func testRandomRingsNeverEscapeGuestMemory() throws {
        let seed = ProcessInfo.processInfo.environment["VIRTQUEUE_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_0011
        print("SplitVirtqueueTests: seed \(seed) (VIRTQUEUE_FUZZ_SEED)")
        var random = SplitMix64(seed: seed)
        let driver = try DriverSide(size: 16)
        let ram = driver.memory.regions[0]
        for _ in 0..<2_000 {
            let queue = try driver.queue()
            for index in 0..<16 {
                let address = random.next() % 4 == 0 ? random.next() : random.next() % (1 << 20)
                let length = random.next() % 3 == 0 ? UInt32(truncatingIfNeeded: random.next()) : UInt32(random.next() % 64)
                try driver.descriptor(index, address: address, length: length,
                                      flags: UInt16(truncatingIfNeeded: random.next() & 7),
                                      next: UInt16(random.next() % 20))
            }
            // Random indirect tables in the buffer area.
            for offset in stride(from: 0, to: 256, by: 8) {
                try driver.memory.write(random.next(), at: DriverSide.buffers + UInt64(offset * 8))
            }
            try driver.memory.write(UInt16(truncatingIfNeeded: random.next() % 24), at: DriverSide.availableRing + 2)
            for slot in 0..<16 {
                try driver.memory.write(UInt16(random.next() % 18), at: DriverSide.availableRing + 4 + UInt64(2 * slot))
            }
            for _ in 0..<24 {
                let result = queue.pop()
                if result == .empty { break }
                if case .broken = result { break }
                if result == .chain {
                    for index in 0..<queue.chain.count {
                        let segment = queue.chain[index]
                        let start = segment.host - ram.host
                        XCTAssertTrue(start >= 0 && start + segment.length <= Int(ram.size))
                    }
                }
                queue.push(head: queue.chain.head, written: 0)
            }
        }
    }
}
