import TestDevice
import VMMKit
import XCTest

final class TestDeviceTests: XCTestCase {
    private var machine: Machine!
    private var device: TestDevice!

    override func setUpWithError() throws {
        machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        device = try TestDevice()
        try machine.add(device)
    }

    func testPortScratchAtEveryWidth() {
        let ports = machine.ports
        ports.write(0x600, size: 4, value: 0x1122_3344, vcpu: 0)
        XCTAssertEqual(ports.read(0x600, size: 4, vcpu: 0), 0x1122_3344)
        XCTAssertEqual(ports.read(0x600, size: 2, vcpu: 0), 0x3344)
        XCTAssertEqual(ports.read(0x602, size: 2, vcpu: 0), 0x1122)
        XCTAssertEqual(ports.read(0x603, size: 1, vcpu: 0), 0x11)
        ports.write(0x601, size: 1, value: 0xaa, vcpu: 0)
        XCTAssertEqual(ports.read(0x600, size: 4, vcpu: 0), 0x1122_aa44)
        ports.write(0x602, size: 2, value: 0xbeef, vcpu: 0)
        XCTAssertEqual(ports.read(0x600, size: 4, vcpu: 0), 0xbeef_aa44)
    }

    func testPortMagicIsReadOnly() {
        machine.ports.write(0x604, size: 4, value: 0, vcpu: 0)
        XCTAssertEqual(machine.ports.read(0x604, size: 4, vcpu: 0), UInt64(TestDevice.magic))
        XCTAssertEqual(machine.ports.read(0x607, size: 1, vcpu: 0), 0x56)
    }

    func testAccessCountIncludesTheReadingAccess() {
        machine.ports.write(0x600, size: 1, value: 1, vcpu: 0)
        _ = machine.ports.read(0x600, size: 1, vcpu: 0)
        XCTAssertEqual(machine.ports.read(0x608, size: 4, vcpu: 0), 3)
        XCTAssertEqual(device.portAccessCount, 3)
        XCTAssertEqual(device.mmioAccessCount, 0, "each window counts its own accesses")
    }

    func testMMIOScratchAtEveryWidth() {
        let mmio = machine.mmio
        let base = TestDevice.defaultMMIO
        mmio.write(base, size: 8, value: 0x0102_0304_0506_0708, vcpu: 0)
        XCTAssertEqual(mmio.read(base, size: 8, vcpu: 0), 0x0102_0304_0506_0708)
        XCTAssertEqual(mmio.read(base + 4, size: 4, vcpu: 0), 0x0102_0304)
        XCTAssertEqual(mmio.read(base + 6, size: 2, vcpu: 0), 0x0102)
        mmio.write(base + 7, size: 1, value: 0xff, vcpu: 0)
        XCTAssertEqual(mmio.read(base, size: 8, vcpu: 0), 0xff02_0304_0506_0708)
        XCTAssertEqual(mmio.read(base + 8, size: 4, vcpu: 0), UInt64(TestDevice.magic))
        XCTAssertEqual(mmio.read(base + 0x10, size: 4, vcpu: 0), 8, "seven accesses before, and this one")
        XCTAssertEqual(mmio.read(base + 0x800, size: 8, vcpu: 0), 0, "unused offsets read zero")
    }

    func testConfigurableBases() throws {
        var registry = DeviceRegistry()
        try registry.register(TestDevice.deviceType)
        let other = try registry.makeDevice("test-device,port=0x700,mmio=0xd0001000")
        try machine.add(other)
        XCTAssertEqual(machine.ports.read(0x704, size: 4, vcpu: 0), UInt64(TestDevice.magic))
        XCTAssertEqual(machine.mmio.read(0xd000_1008, size: 4, vcpu: 0), UInt64(TestDevice.magic))
        XCTAssertThrowsError(try registry.makeDevice("test-device,mmio=0x123"))
        XCTAssertThrowsError(try registry.makeDevice("test-device,colour=red"))
    }
}
