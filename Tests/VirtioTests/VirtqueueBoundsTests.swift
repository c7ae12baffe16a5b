import TestSupport
import Virtio
import VMMKit
import XCTest

/// The split virtqueue against the hostile ranges (`HostileGuestRange`) in a guest memory with RAM
/// on both sides of 2^32: rings placed there are refused when the queue is configured, and buffers
/// and indirect tables there make the request malformed. The virtio devices (virtio-blk, virtio-rng)
/// reach guest memory only through the chains this checks.
final class VirtqueueBoundsTests: XCTestCase {
    typealias D = DriverSide

    func testRingsBuffersAndIndirectTablesAtHostileRanges() throws {
        var driver = try DriverSide()
        try driver.memory.addRegion(name: "high RAM", at: PCMemoryMap.highMemoryStart, size: 64 << 10)
        let ranges = HostileGuestRange.all(in: driver.memory)
        var refused = 0
        for range in ranges {
            for part in 0..<3 {
                var layout = driver.layout
                let aligned = range.address & ~15
                switch part {
                case 0: layout.descriptorTable = aligned
                case 1: layout.availableRing = aligned
                default: layout.usedRing = aligned
                }
                let fits = driver.memory.ramPointer(at: aligned, length: 6 + 16 * Int(driver.size)) != nil
                if !fits {
                    XCTAssertThrowsError(try SplitVirtqueue(layout: layout, memory: driver.memory, features: 0), "\(range), part \(part)")
                    refused += 1
                }
            }
        }
        XCTAssertGreaterThanOrEqual(refused, 3 * (ranges.count - 1), "all but the over-long range start outside RAM")
        let queue = try driver.queue()
        for range in ranges {
            let length = UInt32(clamping: range.length)
            for flags in [0, D.write, D.indirect] {
                try driver.descriptor(0, address: range.address, length: flags == D.indirect ? length & ~15 : length, flags: flags)
                try driver.offer(0)
                let result = queue.pop()
                switch result {
                case .malformed(head: 0, .outsideMemory), .malformed(head: 0, .badIndirectLength): break
                default: XCTFail("\(range), flags \(flags): \(result)")
                }
                queue.push(head: 0, written: 0)
            }
        }
    }
}
