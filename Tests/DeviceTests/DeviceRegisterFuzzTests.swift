import Dispatch
import Foundation
import FuzzTargets
import HostIO
import PCBoard
import TestSupport
import VMMKit
import XCTest

/// Every device of a fully equipped PC (the interrupt controllers, PIT, RTC, ACPI PM, two UARTs, the
/// test device, the PCI host bridge with virtio-rng and virtio-blk behind it) driven with random
/// port and MMIO accesses of every width from four threads at once, with the device timer thread
/// and the virtio device threads running: no trap, no deadlock (a watchdog), and the machine's
/// devices still stop cleanly. `VMM_FUZZ_SEED` repeats a run; the seed is printed.
final class DeviceRegisterFuzzTests: XCTestCase {
    func testRandomAccessesToEveryDeviceFromFourThreads() throws {
        let seed = ProcessInfo.processInfo.environment["VMM_FUZZ_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("DeviceRegisterFuzzTests: seed \(seed) (set VMM_FUZZ_SEED to repeat)")
        let image = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-disk-\(getpid()).img").path
        XCTAssertTrue(FileManager.default.createFile(atPath: image, contents: Data(count: 1 << 20)))
        defer { try? FileManager.default.removeItem(atPath: image) }
        let description = MachineDescription(
            kernelPath: try GuestKernels.path("hello"), cpus: 4, serial: .output(ConsoleOutput.discard()),
            devices: ["serial,port=0x2f8,irq=3", "test-device", "virtio-rng", "virtio-blk,file=\(image)"])
        let machine = try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
        defer { machine.devices.forEach { $0.stop() } }
        for device in machine.devices {
            if let controller = device as? PCInterruptController { try controller.timers.start() }
        }
        machine.ports.freeze(vcpuCount: 4)
        machine.mmio.freeze(vcpuCount: 4)
        // Port I/O is at most 4 bytes wide on x86 (IN/OUT); MMIO up to 8.
        let windows = machine.ports.claims.map { (bus: machine.ports, base: $0.base, last: $0.last, widest: 3) }
            + machine.mmio.claims.map { (bus: machine.mmio, base: $0.base, last: $0.last, widest: 4) }
        XCTAssertGreaterThan(machine.mmio.claims.count, 3, "the PCI devices' BARs are on the MMIO bus")

        let group = DispatchGroup()
        for thread in 0..<4 {
            DispatchQueue.global().async(group: group) {
                var random = SplitMix64(seed: seed &+ UInt64(thread))
                for _ in 0..<50_000 {
                    let window = windows[Int(random.next() % UInt64(windows.count))]
                    let span = window.last - window.base
                    let address = window.base + (span == UInt64.max ? random.next() : random.next() % (span + 1))
                    let size = [1, 2, 4, 8][Int(random.next() % UInt64(window.widest))]
                    if random.next() & 1 == 0 {
                        _ = window.bus.read(address, size: size, vcpu: thread)
                    } else {
                        window.bus.write(address, size: size, value: random.next(), vcpu: thread)
                    }
                }
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 300), .success, "watchdog: a device deadlocked (seed \(seed))")
        let touched = (machine.ports.accessesByClaim + machine.mmio.accessesByClaim).filter { $0.perVCPU.reduce(0, +) > 0 }
        XCTAssertEqual(touched.count, windows.count, "every window was reached")
    }
}
