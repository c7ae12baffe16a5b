import PCBoard
import PCI
import VMMKit
import XCTest

/// The PCI host bridge as an OS sees it through configuration mechanism #1 and ECAM: absent
/// functions, the bridge's own function, BAR sizing and placement, and memory decoding.
final class PCIHostBridgeTests: XCTestCase {
    /// A function with a 16 KiB 32-bit BAR 0 and a 64 KiB 64-bit BAR 2 whose reads return the
    /// offset, so a test sees which BAR and offset an access reached.
    final class ProbeFunction: PCIFunction {
        let name = "probe"
        let configuration: PCIConfiguration
        var writes: [(bar: Int, offset: UInt64, value: UInt64)] = []

        init() {
            var space = PCIConfigurationSpace(vendor: 0x1AF4, device: 0x1044, revision: 1, classCode: 0xFF_00_00)
            space.setBAR(0, PCIBAR(size: 0x4000))
            space.setBAR(2, PCIBAR(size: 0x1_0000, width: .bits64))
            configuration = PCIConfiguration(space)
        }

        func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 { UInt64(index) << 32 | offset }
        func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) { writes.append((index, offset, value)) }
    }

    private let windows = PCBoard.pciWindows

    private func machineWithBridge() throws -> (Machine, PCIHostBridge) {
        let machine = try Machine(memorySize: 16 << 20, vcpuCount: 1)
        let bridge = PCIHostBridge(windows: windows)
        try machine.add(bridge)
        return (machine, bridge)
    }

    /// A configuration dword through mechanism #1.
    private func conf1Read(_ machine: Machine, device: Int, function: Int = 0, register: Int, size: Int = 4) -> UInt64 {
        machine.ports.write(0xCF8, size: 4, value: UInt64(0x8000_0000 | device << 11 | function << 8 | register & 0xFC), vcpu: 0)
        return machine.ports.read(0xCFC + UInt64(register & 3), size: size, vcpu: 0)
    }

    private func conf1Write(_ machine: Machine, device: Int, register: Int, value: UInt64, size: Int = 4) {
        machine.ports.write(0xCF8, size: 4, value: UInt64(0x8000_0000 | device << 11 | register & 0xFC), vcpu: 0)
        machine.ports.write(0xCFC + UInt64(register & 3), size: size, value: value, vcpu: 0)
    }

    private func ecam(bus: Int = 0, device: Int, function: Int = 0, register: Int) -> UInt64 {
        windows.configurationBase + UInt64(bus << 20 | device << 15 | function << 12 | register)
    }

    func testHostBridgeIsDeviceZeroAndAbsentFunctionsReadAllOnes() throws {
        let (machine, _) = try machineWithBridge()
        XCTAssertEqual(conf1Read(machine, device: 0, register: 0), 0x0008_1B36, "vendor and device of 00.0")
        XCTAssertEqual(conf1Read(machine, device: 0, register: 8) >> 8, 0x06_00_00, "class: host bridge")
        XCTAssertEqual(conf1Read(machine, device: 0, register: 0x0E, size: 1), 0, "header type 0, single function")
        for device in [1, 5, 31] {
            XCTAssertEqual(conf1Read(machine, device: device, register: 0), 0xFFFF_FFFF, "no device \(device)")
            XCTAssertEqual(machine.mmio.read(ecam(device: device, register: 0), size: 2, vcpu: 0), 0xFFFF)
        }
        XCTAssertEqual(conf1Read(machine, device: 0, function: 3, register: 0), 0xFFFF_FFFF, "no function 00.3")
        XCTAssertEqual(machine.mmio.read(ecam(bus: 1, device: 0, register: 0), size: 4, vcpu: 0), 0xFFFF_FFFF, "no bus 1")
        XCTAssertEqual(machine.mmio.read(ecam(device: 0, register: 0), size: 4, vcpu: 0), 0x0008_1B36, "ECAM agrees")
        XCTAssertEqual(machine.mmio.read(ecam(device: 0, register: 0x100), size: 4, vcpu: 0), 0,
                       "the extended space of a present function reads zero: no extended capabilities")
        conf1Write(machine, device: 0, register: 0, value: 0x1234_5678)
        XCTAssertEqual(conf1Read(machine, device: 0, register: 0), 0x0008_1B36, "IDs are read-only")
    }

    /// Mechanism #1: only dword accesses reach the address register; with the enable bit clear
    /// the data port reaches nothing.
    func testAddressRegisterTakesDwordsOnly() throws {
        let (machine, _) = try machineWithBridge()
        machine.ports.write(0xCF8, size: 4, value: 0x8000_0000, vcpu: 0)
        XCTAssertEqual(machine.ports.read(0xCF8, size: 4, vcpu: 0), 0x8000_0000)
        machine.ports.write(0xCFB, size: 1, value: 1, vcpu: 0)  // Linux's mechanism check (arch/x86/pci/direct.c)
        XCTAssertEqual(machine.ports.read(0xCF8, size: 4, vcpu: 0), 0x8000_0000, "a byte write leaves the address")
        XCTAssertEqual(machine.ports.read(0xCFE, size: 2, vcpu: 0), 0x0008, "the upper word of the dword")
        machine.ports.write(0xCF8, size: 4, value: 0, vcpu: 0)
        XCTAssertEqual(machine.ports.read(0xCFC, size: 4, vcpu: 0), 0xFFFF_FFFF, "disabled: no function answers")
    }

    func testBARsAreSizedPlacedAndDecoded() throws {
        let (machine, bridge) = try machineWithBridge()
        let probe = ProbeFunction()
        let slot = try bridge.plug(probe)
        XCTAssertEqual(slot, 1)
        XCTAssertEqual(conf1Read(machine, device: 1, register: 0), 0x1044_1AF4)
        let bar0 = conf1Read(machine, device: 1, register: 0x10)
        let bar2 = conf1Read(machine, device: 1, register: 0x18) | conf1Read(machine, device: 1, register: 0x1C) << 32
        XCTAssertEqual(bar0, windows.memory32.lowerBound, "placed at the window's start")
        XCTAssertEqual(bar2 & 0xF, 0b100, "64-bit memory BAR")
        XCTAssertEqual((bar2 & ~0xF) % 0x1_0000, 0, "naturally aligned")
        XCTAssertTrue(windows.memory32.contains(bar2 & ~0xF))
        XCTAssertEqual(conf1Read(machine, device: 1, register: 4) & 2, 2, "memory space enabled, as firmware leaves it")

        // Sizing: all ones, read, restore (PCI Local Bus 3.0, 6.2.5.1).
        conf1Write(machine, device: 1, register: 0x10, value: 0xFFFF_FFFF)
        XCTAssertEqual(conf1Read(machine, device: 1, register: 0x10), 0xFFFF_C000, "16 KiB")
        conf1Write(machine, device: 1, register: 0x18, value: 0xFFFF_FFFF)
        conf1Write(machine, device: 1, register: 0x1C, value: 0xFFFF_FFFF)
        XCTAssertEqual(conf1Read(machine, device: 1, register: 0x18), 0xFFFF_0004, "64 KiB, 64-bit")
        XCTAssertEqual(conf1Read(machine, device: 1, register: 0x1C), 0xFFFF_FFFF)
        XCTAssertEqual(machine.mmio.read(windows.memory32.lowerBound, size: 4, vcpu: 0), 0xFFFF_FFFF,
                       "BAR 0 mid-probe decodes nothing")
        conf1Write(machine, device: 1, register: 0x10, value: bar0)
        conf1Write(machine, device: 1, register: 0x18, value: bar2 & 0xFFFF_FFFF)
        conf1Write(machine, device: 1, register: 0x1C, value: bar2 >> 32)

        XCTAssertEqual(machine.mmio.read(bar0 + 0x10, size: 4, vcpu: 0), 0x10)
        XCTAssertEqual(machine.mmio.read((bar2 & ~0xF) + 0x24, size: 8, vcpu: 0), 2 << 32 | 0x24)
        machine.mmio.write(bar0 + 8, size: 4, value: 7, vcpu: 0)
        XCTAssertEqual(probe.writes.count, 1)
        XCTAssertEqual(probe.writes.first?.offset, 8)

        // The OS moves BAR 0; then turns memory space off.
        let moved = windows.memory32.lowerBound + 0x10_0000
        conf1Write(machine, device: 1, register: 0x10, value: moved)
        XCTAssertEqual(machine.mmio.read(bar0, size: 4, vcpu: 0), 0xFFFF_FFFF, "nothing at the old place")
        XCTAssertEqual(machine.mmio.read(moved + 4, size: 4, vcpu: 0), 4)
        conf1Write(machine, device: 1, register: 4, value: 0, size: 2)
        XCTAssertEqual(machine.mmio.read(moved + 4, size: 4, vcpu: 0), 0xFFFF_FFFF, "memory space disabled")
    }

    /// With a 64-bit window, 64-bit BARs go there and the rest below 4 GiB.
    func testSixtyFourBitBARsGoAboveFourGiBWhenThereIsAWindow() throws {
        let machine = try Machine(memorySize: 16 << 20, vcpuCount: 1)
        let windows = PCBoard.pciWindows(above: machine.memory)
        let high = try XCTUnwrap(windows.memory64)
        XCTAssertEqual(high, 0x1_0000_0000..<0x5_0000_0000, "16 GiB from 4 GiB: RAM ends below it")
        let bridge = PCIHostBridge(windows: windows)
        try machine.add(bridge)
        try bridge.plug(ProbeFunction())
        XCTAssertEqual(conf1Read(machine, device: 1, register: 0x10), windows.memory32.lowerBound)
        let bar2 = conf1Read(machine, device: 1, register: 0x18) & ~0xF | conf1Read(machine, device: 1, register: 0x1C) << 32
        XCTAssertEqual(bar2, high.lowerBound)
        XCTAssertEqual(machine.mmio.read(bar2 + 0x40, size: 8, vcpu: 0), 2 << 32 | 0x40)
        let big = try Machine(memorySize: 63 << 30, vcpuCount: 1)
        XCTAssertNil(PCBoard.pciWindows(above: big.memory).memory64, "no room below 64 GiB above 63 GiB of RAM")
    }

    func testBridgeWithoutRoomRefusesAFunction() throws {
        let (_, bridge) = try machineWithBridge()
        for _ in 1..<32 { try bridge.plug(HostlessFunction()) }
        XCTAssertThrowsError(try bridge.plug(HostlessFunction())) { error in
            XCTAssertEqual(error as? PCIError, .busFull("hostless"))
        }
    }

    final class HostlessFunction: PCIFunction {
        let name = "hostless"
        let configuration = PCIConfiguration(PCIConfigurationSpace(vendor: 0x1AF4, device: 1, revision: 0, classCode: 0))
        func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 { 0 }
        func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {}
    }
}
