import XCTest
import VMMKit

/// A device that records accesses and answers with the offset it was given.
private final class RecordingDevice: BusDevice {
    var writes: [(offset: UInt64, size: Int, value: UInt64)] = []
    func read(_ access: BusAccess) -> UInt64 { 0x100 + access.offset }
    func write(_ access: BusAccess, value: UInt64) { writes.append((access.offset, access.size, value)) }
}

final class IOBusTests: XCTestCase {
    func testDispatchPassesTheOffsetWithinTheClaim() throws {
        let bus = IOBus(name: "port I/O bus", space: .port)
        let serial = RecordingDevice(), other = RecordingDevice()
        try bus.claim(base: 0x3f8, length: 8, by: serial, name: "serial")
        try bus.claim(base: 0x60, length: 1, by: other, name: "other")
        bus.freeze()

        XCTAssertEqual(bus.read(0x3fd, size: 1, vcpu: 0), 0x105)
        XCTAssertEqual(bus.read(0x60, size: 1, vcpu: 0), 0x100)
        bus.write(0x3f8, size: 1, value: 0x41, vcpu: 0)
        XCTAssertEqual(serial.writes.count, 1)
        XCTAssertEqual(serial.writes.first?.offset, 0)
        XCTAssertEqual(serial.writes.first?.value, 0x41)
        XCTAssertTrue(other.writes.isEmpty)
        XCTAssertEqual(bus.unclaimedAccesses.value, 0)
    }

    func testUnclaimedReadsReturnAllOnesAndAreCounted() {
        let bus = IOBus(name: "MMIO bus", space: .mmio)
        XCTAssertEqual(bus.read(0x1000, size: 1, vcpu: 0), 0xff)
        XCTAssertEqual(bus.read(0x1000, size: 2, vcpu: 0), 0xffff)
        XCTAssertEqual(bus.read(0x1000, size: 4, vcpu: 0), 0xffff_ffff)
        XCTAssertEqual(bus.read(0x1000, size: 8, vcpu: 0), UInt64.max)
        bus.write(0x1000, size: 4, value: 1, vcpu: 0)
        XCTAssertEqual(bus.unclaimedAccesses.value, 5)
    }

    func testOverlappingClaimNamesBothDevices() throws {
        let bus = IOBus(name: "port I/O bus", space: .port)
        try bus.claim(base: 0x3f8, length: 8, by: RecordingDevice(), name: "com1")
        XCTAssertThrowsError(try bus.claim(base: 0x3fc, length: 8, by: RecordingDevice(), name: "intruder")) { error in
            XCTAssertEqual(error as? BusError, .overlap(bus: "port I/O bus", existing: "com1", new: "intruder", address: 0x3fc))
            let text = String(describing: error)
            XCTAssertTrue(text.contains("com1") && text.contains("intruder"), text)
        }
    }

    func testEmptyOrWrappingRangesAndLateClaimsAreRejected() throws {
        let bus = IOBus(name: "MMIO bus", space: .mmio)
        XCTAssertThrowsError(try bus.claim(base: 0, length: 0, by: RecordingDevice(), name: "empty"))
        XCTAssertThrowsError(try bus.claim(base: UInt64.max, length: 2, by: RecordingDevice(), name: "wrap"))
        bus.freeze()
        XCTAssertThrowsError(try bus.claim(base: 0, length: 1, by: RecordingDevice(), name: "late")) {
            XCTAssertEqual($0 as? BusError, .frozen(bus: "MMIO bus", device: "late"))
        }
    }

    /// `--stats`' breakdown by device: each claim's accesses per vCPU, once frozen for the vCPUs;
    /// accesses from outside a vCPU are not counted, and claims of other sizes never mix.
    func testAccessesAreCountedPerClaimAndVCPU() throws {
        let bus = IOBus(name: "port I/O bus", space: .port)
        let devices = (0..<9).map { _ in RecordingDevice() }
        for (index, device) in devices.enumerated() {
            try bus.claim(base: UInt64(0x100 + index * 0x10), length: 8, by: device, name: "device \(index)")
        }
        XCTAssertTrue(bus.accessesByClaim.isEmpty, "nothing counted before the bus is frozen for vCPUs")
        bus.freeze(vcpuCount: 3)
        _ = bus.read(0x100, size: 1, vcpu: 0)
        bus.write(0x104, size: 1, value: 0, vcpu: 2)
        bus.write(0x180, size: 1, value: 0, vcpu: 1)
        bus.write(0x180, size: 1, value: 0, vcpu: 1)
        _ = bus.read(0x180, size: 1, vcpu: 7)
        _ = bus.read(0x900, size: 1, vcpu: 0)
        let counts = bus.accessesByClaim
        XCTAssertEqual(counts.count, 9)
        XCTAssertEqual(counts[0].name, "device 0")
        XCTAssertEqual(counts[0].perVCPU, [1, 0, 1])
        XCTAssertEqual(counts[8].perVCPU, [0, 2, 0], "the ninth claim lies in a second cache line of each row")
        XCTAssertEqual(counts[1].perVCPU, [0, 0, 0])
        bus.freeze(vcpuCount: 3)
        XCTAssertEqual(bus.accessesByClaim[8].perVCPU, [0, 2, 0], "freezing again keeps the counts")
    }
}
