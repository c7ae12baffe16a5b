#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VMMKit
import XCTest

/// The doorbell table as a vCPU rings it (the Soft CPU's path, and KVM's for what the kernel left
/// to userspace) and as a backend registrar is told of it (KVM_IOEVENTFD's assign and deassign).
final class DoorbellTableTests: XCTestCase {
    private let bus = IOBus(name: "MMIO bus", space: .mmio)

    func testOnlyAWriteOfTheDoorbellsWidthRings() throws {
        let doorbell = try bus.doorbells.declare(name: "queue 0", width: 2)
        doorbell.move(to: 0x1000)
        XCTAssertFalse(bus.doorbells.ring(0x1000, size: 4, value: 0), "a 4-byte write is an ordinary one")
        XCTAssertFalse(bus.doorbells.ring(0x1000, size: 1, value: 0))
        XCTAssertFalse(bus.doorbells.ring(0x1001, size: 2, value: 0), "another address")
        XCTAssertEqual(doorbell.event.take(), 0, "nothing signalled yet")
        XCTAssertTrue(bus.doorbells.ring(0x1000, size: 2, value: 7))
        XCTAssertTrue(bus.doorbells.ring(0x1000, size: 2, value: 9), "any value without a match")
        XCTAssertEqual(doorbell.take(), 2, "one eventfd count per ring")
        XCTAssertEqual(doorbell.rings, 2)
        XCTAssertEqual(doorbell.take(), 0)
    }

    func testADataMatchRingsForItsValueOnlyWithinTheWidth() throws {
        let doorbell = try bus.doorbells.declare(name: "matched", width: 4, match: 0x600D)
        doorbell.move(to: 0x2000)
        XCTAssertFalse(bus.doorbells.ring(0x2000, size: 4, value: 0x600E))
        XCTAssertTrue(bus.doorbells.ring(0x2000, size: 4, value: 0x600D))
        XCTAssertTrue(bus.doorbells.ring(0x2000, size: 4, value: 0xFFFF_FFFF_0000_600D), "bits above the width ignored")
        XCTAssertEqual(doorbell.take(), 2)
    }

    func testTwoDoorbellsAtOneAddressByValue() throws {
        let even = try bus.doorbells.declare(name: "even", width: 2, match: 0)
        let odd = try bus.doorbells.declare(name: "odd", width: 2, match: 1)
        even.move(to: 0x3000)
        odd.move(to: 0x3000)
        XCTAssertTrue(bus.doorbells.ring(0x3000, size: 2, value: 1))
        XCTAssertTrue(bus.doorbells.ring(0x3000, size: 2, value: 1))
        XCTAssertTrue(bus.doorbells.ring(0x3000, size: 2, value: 0))
        XCTAssertFalse(bus.doorbells.ring(0x3000, size: 2, value: 2))
        XCTAssertEqual(odd.take(), 2)
        XCTAssertEqual(even.take(), 1)
    }

    /// Only the first ring since the device's thread took the doorbell writes the eventfd (the
    /// thread serves the rest in the same round); a doorbell another process reads gets every one.
    func testRingsAfterTheFirstWaitForTheTakeWithoutASignal() throws {
        let doorbell = try bus.doorbells.declare(name: "coalescing", width: 2)
        let kick = try bus.doorbells.declare(name: "kick", width: 2, coalescing: false)
        doorbell.move(to: 0x1000)
        kick.move(to: 0x2000)
        for _ in 0..<5 {
            XCTAssertTrue(bus.doorbells.ring(0x1000, size: 2, value: 0))
            XCTAssertTrue(bus.doorbells.ring(0x2000, size: 2, value: 0))
        }
        XCTAssertEqual(doorbell.event.take(), 1, "one eventfd write for five rings")
        XCTAssertEqual(doorbell.take(), 5, "yet all five counted")
        XCTAssertTrue(bus.doorbells.ring(0x1000, size: 2, value: 0))
        XCTAssertEqual(doorbell.event.take(), 1, "the first ring after the take signals again")
        XCTAssertEqual(kick.event.take(), 5, "a back end's kick: one write per ring")
    }

    func testAMovedDoorbellRingsAtItsNewAddressOnly() throws {
        let doorbell = try bus.doorbells.declare(name: "bar", width: 2)
        XCTAssertNil(doorbell.address, "nowhere until moved")
        XCTAssertFalse(bus.doorbells.ring(UInt64.max, size: 2, value: 0), "not even at the table's own marker")
        doorbell.move(to: 0xE000_3000)
        doorbell.move(to: 0xF000_3000)
        XCTAssertEqual(doorbell.address, 0xF000_3000)
        XCTAssertFalse(bus.doorbells.ring(0xE000_3000, size: 2, value: 0))
        XCTAssertTrue(bus.doorbells.ring(0xF000_3000, size: 2, value: 0))
        doorbell.move(to: nil)
        XCTAssertNil(doorbell.address)
        XCTAssertFalse(bus.doorbells.ring(0xF000_3000, size: 2, value: 0), "a disabled BAR rings nothing")
    }

    func testARegistrarIsToldEveryAddressAndEveryMove() throws {
        let first = try bus.doorbells.declare(name: "first", width: 2)
        let second = try bus.doorbells.declare(name: "second", width: 4, match: 5)
        first.move(to: 0x1000)
        let registrar = RecordingRegistrar()
        bus.doorbells.connect(registrar)
        XCTAssertEqual(registrar.log, ["assign first 0x1000"], "connect assigns what has an address")
        second.move(to: 0x2000)
        first.move(to: 0x1800)
        first.move(to: 0x1800)
        first.move(to: nil)
        XCTAssertEqual(registrar.log, ["assign first 0x1000", "assign second 0x2000", "deassign first 0x1000",
                                       "assign first 0x1800", "deassign first 0x1800"],
                       "a deassign at the old address before the new one's assign; nothing for a non-move")
        let next = RecordingRegistrar()
        bus.doorbells.connect(next)
        XCTAssertEqual(next.log, ["assign second 0x2000"], "the next boot's VM gets the current addresses")
    }

    func testADoorbellTheRegistrarRefusedStillRingsInUserspace() throws {
        let doorbell = try bus.doorbells.declare(name: "refused", width: 2)
        let registrar = RecordingRegistrar()
        registrar.refuses = true
        bus.doorbells.connect(registrar)
        doorbell.move(to: 0x4000)
        XCTAssertTrue(bus.doorbells.ring(0x4000, size: 2, value: 0))
        XCTAssertEqual(doorbell.event.take(), 1)
    }

    func testBadWidthsAndAFullTableAreRefused() throws {
        XCTAssertThrowsError(try bus.doorbells.declare(name: "odd", width: 3)) { error in
            XCTAssertEqual(error as? DoorbellError, .badWidth(name: "odd", width: 3))
        }
        for index in 0..<DoorbellTable.capacity { _ = try bus.doorbells.declare(name: "d\(index)", width: 1) }
        XCTAssertThrowsError(try bus.doorbells.declare(name: "one too many", width: 1)) { error in
            XCTAssertEqual(error as? DoorbellError, .tableFull(name: "one too many", capacity: DoorbellTable.capacity))
        }
    }

    func testTheDeviceThreadTakesRingsAndHostDescriptors() throws {
        let doorbell = try bus.doorbells.declare(name: "queue", width: 2)
        doorbell.move(to: 0x5000)
        let thread = try DeviceEventThread(name: "test device")
        var ends: [Int32] = [-1, -1]
        XCTAssertEqual(pipe(&ends), 0)
        defer { ends.forEach { _ = close($0) } }
        let doorbellIndex = thread.watch(doorbell)
        let pipeIndex = thread.watch(descriptor: ends[0])
        let seen = SeenSources()
        try thread.start { ready in
            if ready.contains(doorbellIndex) { seen.record(doorbell: true) }
            if ready.contains(pipeIndex) {
                var byte: UInt8 = 0
                _ = read(ends[0], &byte, 1)
                seen.record(doorbell: false)
            }
        }
        defer { thread.stop() }
        for _ in 0..<3 { XCTAssertTrue(bus.doorbells.ring(0x5000, size: 2, value: 0)) }
        XCTAssertTrue(eventually { doorbell.rings == 3 }, "every ring taken by the thread")
        XCTAssertTrue(eventually { seen.counts.doorbell >= 1 })
        var byte: UInt8 = 1
        XCTAssertEqual(write(ends[1], &byte, 1), 1)
        XCTAssertTrue(eventually { seen.counts.descriptor == 1 }, "a host descriptor wakes it too")
    }

    /// Polls `condition` every millisecond for up to 30 s (never a timed assertion).
    private func eventually(_ condition: () -> Bool) -> Bool {
        for _ in 0..<30_000 {
            if condition() { return true }
            usleep(1000)
        }
        return condition()
    }
}

private final class RecordingRegistrar: DoorbellRegistrar {
    var log: [String] = []
    var refuses = false

    func assign(_ doorbell: Doorbell, at address: UInt64) -> Bool {
        log.append("assign \(doorbell.name) 0x\(String(address, radix: 16))")
        return !refuses
    }

    func deassign(_ doorbell: Doorbell, at address: UInt64) {
        log.append("deassign \(doorbell.name) 0x\(String(address, radix: 16))")
    }
}

private final class SeenSources: @unchecked Sendable {
    private let lock = NSLock()
    private var doorbells = 0
    private var descriptors = 0

    func record(doorbell: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if doorbell { doorbells += 1 } else { descriptors += 1 }
    }

    var counts: (doorbell: Int, descriptor: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (doorbells, descriptors)
    }
}
