import Dispatch
import Foundation
import FuzzTargets
import PCBoard
import PCI
import Virtio
import VirtioBlock
import VirtioPCI
import VirtioRNG
import VMMKit
import XCTest

/// The virtio PCI transport as Linux's virtio_pci drives it (virtio 1.2, 4.1), with the entropy
/// device behind it: capabilities, feature negotiation, a queue's life, MSI-X completions, and
/// rings a hostile driver breaks.
final class VirtioPCITransportTests: XCTestCase {
    private func driver(queueSize: UInt16 = 8) throws -> VirtioTestDriver {
        try VirtioTestDriver(VirtioPCITransport(name: "virtio-rng", device: VirtioEntropy()), queueSize: queueSize)
    }

    func testIdentityAndCapabilities() throws {
        let driver = try driver()
        let machine = driver.machine
        XCTAssertEqual(VirtioTestDriver.configurationRead(machine, 0), 0x1044_1AF4, "modern virtio-rng")
        XCTAssertEqual(VirtioTestDriver.configurationRead(machine, 8) & 0xFF, 1, "revision 1")
        XCTAssertEqual(VirtioTestDriver.configurationRead(machine, 0x2C) >> 16, 0x40, "subsystem ID")
        XCTAssertEqual(VirtioTestDriver.configurationRead(machine, 0x3C) >> 8 & 0xFF, 0, "no INTx pin")
        var structures: [UInt8: (bar: UInt32, offset: UInt32, length: UInt32)] = [:]
        var next = Int(VirtioTestDriver.configurationRead(machine, 0x34, size: 1))
        var seen = 0
        while next != 0, seen < 16 {
            if VirtioTestDriver.configurationRead(machine, next, size: 1) == 9 {
                let type = UInt8(VirtioTestDriver.configurationRead(machine, next + 3, size: 1))
                structures[type] = (VirtioTestDriver.configurationRead(machine, next + 4, size: 1),
                                    VirtioTestDriver.configurationRead(machine, next + 8),
                                    VirtioTestDriver.configurationRead(machine, next + 12))
                if type == 2 { XCTAssertEqual(VirtioTestDriver.configurationRead(machine, next + 16), 4, "notify multiplier") }
            }
            next = Int(VirtioTestDriver.configurationRead(machine, next + 1, size: 1))
            seen += 1
        }
        XCTAssertEqual(structures[1]?.offset, 0, "common configuration")
        XCTAssertEqual(structures[1]?.length, 0x38)
        XCTAssertEqual(structures[2]?.offset, 0x3000, "notifications")
        XCTAssertEqual(structures[3]?.offset, 0x1000, "ISR")
        XCTAssertEqual(structures[4]?.offset, 0x2000, "device configuration")
        XCTAssertEqual(Set(structures.values.map(\.bar)), [0])
        XCTAssertEqual(driver.common(0x12, size: 2), 1, "one queue")
        XCTAssertEqual(driver.common(0x18, size: 2), 64, "its maximum size")
        let offered = driver.offeredFeatures
        XCTAssertEqual(offered, VirtioFeatures.version1 | VirtioFeatures.eventIndex | VirtioFeatures.indirectDescriptors)
    }

    /// The PCI configuration access capability (4.1.4.9): BAR, offset and length written into
    /// it, then its data window reads or writes that register.
    func testConfigurationAccessWindowReachesTheBARs() throws {
        let driver = try driver()
        let machine = driver.machine
        var window = 0
        var next = Int(VirtioTestDriver.configurationRead(machine, 0x34, size: 1))
        while next != 0 {
            if VirtioTestDriver.configurationRead(machine, next, size: 1) == 9,
               VirtioTestDriver.configurationRead(machine, next + 3, size: 1) == 5 { window = next }
            next = Int(VirtioTestDriver.configurationRead(machine, next + 1, size: 1))
        }
        XCTAssertNotEqual(window, 0, "a VIRTIO_PCI_CAP_PCI_CFG capability")
        XCTAssertEqual(VirtioTestDriver.configurationRead(machine, window + 2, size: 1), 20, "cap_len")
        driver.configurationWrite(window + 4, 0, size: 1)          // BAR 0
        driver.configurationWrite(window + 8, 0x12)               // num_queues
        driver.configurationWrite(window + 12, 2)                 // two bytes
        XCTAssertEqual(VirtioTestDriver.configurationRead(machine, window + 16), 1, "num_queues through the window")
        driver.configurationWrite(window + 8, 0x16)               // queue_select
        driver.configurationWrite(window + 16, 5, size: 2)
        XCTAssertEqual(driver.common(0x16, size: 2), 5, "a write through the window")
        driver.configurationWrite(window + 12, 3)                 // no such length
        XCTAssertEqual(VirtioTestDriver.configurationRead(machine, window + 16), 5, "an undefined access reads the stored bytes")
    }

    func testFeaturesOKOnlyForASubsetWithVersion1() throws {
        let driver = try driver()
        XCTAssertFalse(driver.negotiate(0), "legacy (no VERSION_1) refused")
        XCTAssertFalse(driver.negotiate(VirtioFeatures.version1 | 1 << 40), "a bit not offered")
        XCTAssertTrue(driver.negotiate(VirtioFeatures.version1))
        driver.writeDriverFeatures(VirtioFeatures.version1 | VirtioFeatures.eventIndex)
        driver.setCommon(0x08, size: 4, 0)
        XCTAssertEqual(driver.common(0x0C, size: 4), 0, "features are fixed after FEATURES_OK")
        driver.setCommon(0x1A, size: 2, 7)
        XCTAssertEqual(driver.common(0x1A, size: 2), 0xFFFF, "a vector past the table reads NO_VECTOR")
    }

    func testEntropyRequestsCompleteWithAnMSI() throws {
        let driver = try driver()
        try driver.start()
        let buffer = VirtioTestDriver.buffers
        try driver.descriptor(0, address: buffer, length: 64, flags: 2)
        XCTAssertEqual(try driver.submit(0), 64)
        let bytes = try driver.machine.memory.readBytes(at: buffer, count: 64)
        XCTAssertGreaterThan(Set(bytes).count, 16, "random bytes")
        XCTAssertTrue(driver.waitUntil { driver.recorder.sentMessages.count >= 1 })
        XCTAssertEqual(driver.recorder.sentMessages.first,
                       MSIMessage(address: VirtioTestDriver.msiAddress, data: VirtioTestDriver.queueData))
        // Indirect: two writable buffers through a table.
        let table = buffer + 0x1000
        try driver.descriptor(0, address: buffer + 0x2000, length: 100, flags: 3, next: 1, table: table)
        try driver.descriptor(1, address: buffer + 0x3000, length: 28, flags: 2, table: table)
        try driver.descriptor(1, address: table, length: 32, flags: 4)
        XCTAssertEqual(try driver.submit(1), 128)
    }

    /// Each queue's doorbell sits at its notification register wherever the OS puts BAR 0, and
    /// nowhere while memory space is off; a request rung through it at the new place is served.
    func testDoorbellsFollowBARZero() throws {
        let driver = try driver()
        try driver.start()
        let doorbell = try XCTUnwrap(driver.transport.doorbells.first)
        XCTAssertEqual(driver.transport.doorbells.count, 1, "one per queue")
        XCTAssertEqual(doorbell.address, driver.bar0 + 0x3000)
        XCTAssertEqual(doorbell.width, 2, "the driver writes the queue's 16-bit index")
        let moved = driver.bar0 + 0x10_0000
        driver.configurationWrite(0x10, UInt32(moved))
        XCTAssertEqual(doorbell.address, moved + 0x3000)
        XCTAssertFalse(driver.machine.mmio.doorbells.ring(driver.bar0 + 0x3000, size: 2, value: 0), "not at the old place")
        driver.doorbellAddress = moved + 0x3000
        try driver.descriptor(0, address: VirtioTestDriver.buffers, length: 32, flags: 2)
        XCTAssertEqual(try driver.submit(0), 32, "served after a ring at the new place")
        XCTAssertGreaterThanOrEqual(doorbell.rings, 1, "taken by the device's thread")
        let command = VirtioTestDriver.configurationRead(driver.machine, 0x04, size: 2)
        driver.configurationWrite(0x04, command & ~2, size: 2)
        XCTAssertNil(doorbell.address, "memory space off: the doorbell decodes nowhere")
        driver.configurationWrite(0x04, command, size: 2)
        XCTAssertEqual(doorbell.address, moved + 0x3000)
    }

    /// A queue another process serves (vhost-user): the transport's thread leaves its doorbell's
    /// eventfd alone, so the ring reaches that process, and the process's call eventfd, watched on
    /// the device's thread, interrupts the driver with the queue's vector.
    func testAQueueServedElsewhereKeepsItsKickAndInterruptsOnItsCall() throws {
        let device = try ServedElsewhere()
        let transport = try VirtioPCITransport(name: "served-elsewhere", device: device)
        device.transport = transport
        let driver = try VirtioTestDriver(transport)
        try driver.start()
        let doorbell = try XCTUnwrap(transport.doorbells.first)
        for _ in 0..<2 { XCTAssertTrue(driver.machine.mmio.doorbells.ring(try XCTUnwrap(doorbell.address), size: 2, value: 0)) }
        XCTAssertEqual(doorbell.event.take(), 2, "both kicks are there for the back end")
        device.call.signal()
        XCTAssertTrue(driver.waitUntil {
            driver.recorder.sentMessages.contains(MSIMessage(address: VirtioTestDriver.msiAddress, data: VirtioTestDriver.queueData))
        }, "the call raised queue 0's vector")
        XCTAssertEqual(driver.common(0x1000, size: 1), 1, "ISR: a queue interrupt")
    }

    /// The machine's reset (a guest reboot) leaves the device as the driver's reset does: status 0,
    /// no queue enabled, nothing served from the old rings; a new driver then starts it again.
    func testMachineResetResetsTheDevice() throws {
        let driver = try driver()
        try driver.start()
        XCTAssertEqual(driver.status, 0xF)
        driver.machine.devices.forEach { $0.reset() }
        XCTAssertEqual(driver.status, 0, "device status after the machine's reset")
        XCTAssertEqual(driver.common(0x1C, size: 2), 0, "queue 0 no longer enabled")
        try driver.start()
        try driver.descriptor(0, address: VirtioTestDriver.buffers, length: 16, flags: 2)
        XCTAssertEqual(try driver.submit(0), 16, "served again once the new driver set it up")
    }

    func testBadQueueSizeNeedsReset() throws {
        for size: UInt16 in [0, 3, 128] {
            let driver = try driver()
            try driver.start(size: size)
            XCTAssertEqual(driver.status & 64, 64, "size \(size): DEVICE_NEEDS_RESET")
            XCTAssertEqual(driver.common(0x1C, size: 2), 0, "the queue is not enabled")
            XCTAssertTrue(driver.waitUntil { driver.recorder.sentMessages.last?.data == VirtioTestDriver.configurationData },
                          "the configuration vector tells the driver")
        }
    }

    /// A broken ring stops the device until a reset; after it, the device serves again. A
    /// malformed chain fails alone.
    func testBrokenRingAndMalformedChains() throws {
        let driver = try driver()
        try driver.start()
        try driver.descriptor(0, address: 0x7000_0000, length: 64, flags: 2)
        XCTAssertEqual(try driver.submit(0), 0, "outside RAM: completed with nothing written")
        try driver.descriptor(0, address: VirtioTestDriver.buffers, length: 8, flags: 3, next: 0)
        XCTAssertEqual(try driver.submit(0), 0, "a loop: completed with nothing written")
        try driver.descriptor(0, address: VirtioTestDriver.buffers, length: 8, flags: 2)
        XCTAssertEqual(try driver.submit(0), 8, "a good request still works")

        try driver.offer(200)
        XCTAssertTrue(driver.waitUntil { driver.status & 64 != 0 }, "a head past the table: DEVICE_NEEDS_RESET")
        XCTAssertEqual(driver.usedIndex, 3, "and never completed")
        try driver.start()
        XCTAssertEqual(driver.status & 64, 0, "the reset cleared it")
        XCTAssertEqual(try driver.submit(0), 8, "served again after the reset")
    }
}

/// Random register traffic from several threads at once into a virtio-blk function's capabilities
/// and BARs (common configuration, doorbells, ISR, device configuration, MSI-X table), with
/// its device thread serving whatever rings that makes: nothing may crash, hang or deadlock, and
/// after a reset the device serves a good request. Seed from VIRTIO_FUZZ_SEED.
final class VirtioTransportFuzzTests: XCTestCase {
    func testRandomRegisterTrafficFromSeveralThreads() throws {
        let seed = ProcessInfo.processInfo.environment["VIRTIO_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0x5EED_0B1C
        print("VirtioTransportFuzzTests: seed \(seed) (VIRTIO_FUZZ_SEED)")
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-fuzz-\(getpid()).img")
        try Data(count: 64 << 10).write(to: image)
        defer { try? FileManager.default.removeItem(at: image) }
        let block = VirtioBlock(image: try DiskImage(path: image.path, readOnly: false))
        let driver = try VirtioTestDriver(VirtioPCITransport(name: "virtio-blk", device: block))
        let machine = driver.machine
        let targets: [(base: UInt64, length: UInt64)] = [
            (driver.bar0, 0x40), (driver.bar0 + 0x1000, 4), (driver.bar0 + 0x2000, 0x40), (driver.bar0 + 0x3000, 8),
            // The capabilities (MSI-X control, the configuration access window), not the BARs:
            // moving those would send the rest of the traffic nowhere.
            (driver.bar1, 0x40), (driver.bar1 + 0x800, 8), (PCBoard.pciWindows.configurationBase + (1 << 15) + 0x40, 0xC0),
        ]
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            var random = SplitMix64(seed: seed &+ UInt64(thread))
            for _ in 0..<20_000 {
                let target = targets[Int(random.next() % UInt64(targets.count))]
                let size = [1, 2, 4, 8][Int(random.next() % 4)]
                let address = target.base + random.next() % target.length
                if random.next() % 3 == 0 {
                    _ = machine.mmio.read(address, size: size, vcpu: thread)
                } else {
                    // Ring addresses point into the driver's area or anywhere at all.
                    let value = random.next() % 2 == 0 ? random.next() : VirtioTestDriver.descriptorTable + random.next() % 0x4000
                    machine.mmio.write(address, size: size, value: value, vcpu: thread)
                }
            }
        }
        try driver.start()
        try driver.machine.memory.write(UInt32(0), at: VirtioTestDriver.buffers)          // a read
        try driver.machine.memory.write(UInt64(0), at: VirtioTestDriver.buffers + 8)      // of sector 0
        try driver.descriptor(0, address: VirtioTestDriver.buffers, length: 16, flags: 1, next: 1)
        try driver.descriptor(1, address: VirtioTestDriver.buffers + 0x1000, length: 512, flags: 3, next: 2)
        try driver.descriptor(2, address: VirtioTestDriver.buffers + 0x2000, length: 1, flags: 2)
        XCTAssertEqual(try driver.submit(0), 513, "after the storm and a reset, a good read is served")
        XCTAssertEqual(try driver.machine.memory.read(UInt8.self, at: VirtioTestDriver.buffers + 0x2000), 0)
    }
}

/// A device whose only queue a back end process serves: it keeps no chains, and interrupts when
/// the back end signals `call`.
private final class ServedElsewhere: VirtioDevice {
    let call: EventNotifier
    weak var transport: VirtioPCITransport?
    private var callIndex = -1

    init() throws { call = try EventNotifier() }

    var deviceID: UInt16 { 4 }
    var classCode: UInt32 { 0xFF_00_00 }
    var deviceFeatures: UInt64 { 0 }
    var queueSizes: [UInt16] { [8] }
    func readConfiguration(offset: Int, size: Int) -> UInt64 { 0 }
    func serve(_ chain: DescriptorChain, queue: Int) -> UInt32 { 0 }
    func takesDoorbell(ofQueue queue: Int) -> Bool { false }
    func watchSources(on thread: DeviceEventThread) { callIndex = thread.watch(call) }
    func woke(_ ready: DeviceEventThread.Ready) {
        if ready.contains(callIndex) { transport?.interrupt(queue: 0) }
    }
}
