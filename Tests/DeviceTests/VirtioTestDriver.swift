import Foundation
import PCBoard
import PCI
import Virtio
import VirtioPCI
import VMMKit
import XCTest

/// A virtio driver in the test, doing what Linux's virtio_pci does through the PCI host bridge:
/// find the BARs, reset, negotiate features, set up queue 0 with its rings in guest memory, route
/// its MSI-X vector, then submit chains and ring the doorbell. Completions are waited for by
/// polling the used index with a generous bound (never a timed assertion).
final class VirtioTestDriver {
    static let descriptorTable: UInt64 = 0x10_0000
    static let availableRing: UInt64 = 0x10_1000
    static let usedRing: UInt64 = 0x10_2000
    static let buffers: UInt64 = 0x20_0000
    static let msiAddress: UInt64 = 0xFEE0_0000
    static let queueData: UInt32 = 0x41
    static let configurationData: UInt32 = 0x42

    let machine: Machine
    let recorder = LineRecorder()
    let transport: VirtioPCITransport
    let bar0: UInt64
    let bar1: UInt64
    let queueSize: UInt16
    private(set) var availableIndex: UInt16 = 0
    /// Where `offer` rings queue 0 through the MMIO bus's doorbell table, as a vCPU does; nil: an
    /// ordinary bus write at BAR 0's notification offset, which the transport answers itself.
    var doorbellAddress: UInt64?

    init(_ transport: VirtioPCITransport, queueSize: UInt16 = 8) throws {
        machine = try Machine(memorySize: 16 << 20, vcpuCount: 1)
        machine.interruptRouter.connect(recorder)
        try machine.add(PCIHostBridge(windows: PCBoard.pciWindows))
        try machine.add(transport)
        self.transport = transport
        self.queueSize = queueSize
        bar0 = UInt64(Self.configurationRead(machine, 0x10)) & ~0xF
        bar1 = UInt64(Self.configurationRead(machine, 0x14)) & ~0xF
    }

    deinit { transport.stop() }

    static func configurationRead(_ machine: Machine, _ register: Int, size: Int = 4) -> UInt32 {
        UInt32(machine.mmio.read(PCBoard.pciWindows.configurationBase + UInt64(1 << 15 | register), size: size, vcpu: 0))
    }

    func configurationWrite(_ register: Int, _ value: UInt32, size: Int = 4) {
        machine.mmio.write(PCBoard.pciWindows.configurationBase + UInt64(1 << 15 | register), size: size,
                           value: UInt64(value), vcpu: 0)
    }

    func common(_ offset: UInt64, size: Int) -> UInt64 { machine.mmio.read(bar0 + offset, size: size, vcpu: 0) }
    func setCommon(_ offset: UInt64, size: Int, _ value: UInt64) {
        machine.mmio.write(bar0 + offset, size: size, value: value, vcpu: 0)
    }

    var status: UInt8 { UInt8(common(0x14, size: 1)) }

    /// The offered feature bits, both halves.
    var offeredFeatures: UInt64 {
        setCommon(0x00, size: 4, 0)
        let low = common(0x04, size: 4)
        setCommon(0x00, size: 4, 1)
        return low | common(0x04, size: 4) << 32
    }

    func writeDriverFeatures(_ features: UInt64) {
        for half in 0..<2 {
            setCommon(0x08, size: 4, UInt64(half))
            setCommon(0x0C, size: 4, features >> (32 * UInt64(half)) & 0xFFFF_FFFF)
        }
    }

    /// Reset, ACKNOWLEDGE | DRIVER, features, FEATURES_OK; true if the device kept FEATURES_OK.
    @discardableResult
    func negotiate(_ features: UInt64) -> Bool {
        setCommon(0x14, size: 1, 0)
        setCommon(0x14, size: 1, 3)
        writeDriverFeatures(features)
        setCommon(0x14, size: 1, 0xB)
        return status & 8 != 0
    }

    /// Queue 0 with the rings at the fixed addresses, vector 0 for it and 1 for configuration,
    /// MSI-X on with both entries unmasked; then DRIVER_OK.
    func start(features: UInt64 = VirtioFeatures.version1 | VirtioFeatures.eventIndex | VirtioFeatures.indirectDescriptors,
               size: UInt16? = nil) throws {
        XCTAssertTrue(negotiate(features))
        // Fresh rings, as after the driver reallocates them.
        try machine.memory.zero(at: Self.availableRing, length: 0x2000)
        availableIndex = 0
        let capability = Int(Self.configurationRead(machine, 0x34, size: 1))
        XCTAssertEqual(Self.configurationRead(machine, capability, size: 1), 0x11, "MSI-X first")
        configurationWrite(capability + 2, 0x8000, size: 2)
        for (vector, data) in [Self.queueData, Self.configurationData].enumerated() {
            let entry = bar1 + UInt64(16 * vector)
            machine.mmio.write(entry, size: 4, value: Self.msiAddress, vcpu: 0)
            machine.mmio.write(entry + 4, size: 4, value: 0, vcpu: 0)
            machine.mmio.write(entry + 8, size: 4, value: UInt64(data), vcpu: 0)
            machine.mmio.write(entry + 12, size: 4, value: 0, vcpu: 0)
        }
        setCommon(0x10, size: 2, 1)
        setCommon(0x16, size: 2, 0)
        setCommon(0x18, size: 2, UInt64(size ?? queueSize))
        setCommon(0x1A, size: 2, 0)
        XCTAssertEqual(common(0x1A, size: 2), 0, "vector 0 accepted")
        setCommon(0x20, size: 8, Self.descriptorTable)
        setCommon(0x28, size: 8, Self.availableRing)
        setCommon(0x30, size: 8, Self.usedRing)
        // Interrupt after every used entry (event index: used_event = used index so far).
        try machine.memory.write(UInt16(0), at: Self.availableRing + 4 + 2 * UInt64(queueSize))
        setCommon(0x1C, size: 2, 1)
        setCommon(0x14, size: 1, 0xF)
    }

    func descriptor(_ index: Int, address: UInt64, length: UInt32, flags: UInt16 = 0, next: UInt16 = 0,
                    table: UInt64 = descriptorTable) throws {
        let entry = table + UInt64(index * 16)
        try machine.memory.write(address, at: entry)
        try machine.memory.write(length, at: entry + 8)
        try machine.memory.write(flags, at: entry + 12)
        try machine.memory.write(next, at: entry + 14)
    }

    var usedIndex: UInt16 { (try? machine.memory.read(UInt16.self, at: Self.usedRing + 2)) ?? 0 }

    /// Makes `head` available, rings queue 0's doorbell, and waits (up to 30 s) for the used
    /// index to move; returns the used entry's length, nil if it never came.
    func submit(_ head: UInt16) throws -> UInt32? {
        let before = usedIndex
        try offer(head)
        guard waitUntil({ self.usedIndex != before }) else { return nil }
        return try machine.memory.read(UInt32.self, at: Self.usedRing + 4 + 8 * UInt64(before % queueSize) + 4)
    }

    /// Makes `head` available and rings the doorbell, without waiting.
    func offer(_ head: UInt16) throws {
        try machine.memory.write(head, at: Self.availableRing + 4 + 2 * UInt64(availableIndex % queueSize))
        availableIndex &+= 1
        try machine.memory.write(availableIndex, at: Self.availableRing + 2)
        // used_event: interrupt once the entry after those already used is (2.7.10).
        try machine.memory.write(usedIndex, at: Self.availableRing + 4 + 2 * UInt64(queueSize))
        if let doorbellAddress {
            XCTAssertTrue(machine.mmio.doorbells.ring(doorbellAddress, size: 2, value: 0), "queue 0's doorbell rings")
        } else {
            machine.mmio.write(bar0 + 0x3000, size: 2, value: 0, vcpu: 0)
        }
    }

    /// Polls `condition` every millisecond for up to 30 s.
    func waitUntil(_ condition: () -> Bool) -> Bool {
        for _ in 0..<30_000 {
            if condition() { return true }
            usleep(1000)
        }
        return condition()
    }
}
