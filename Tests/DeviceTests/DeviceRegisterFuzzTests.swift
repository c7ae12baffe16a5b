import Dispatch
import Foundation
import FuzzTargets
import Synchronization
import TestSupport
import XCTest

/// Every device of a fully equipped PC (`DeviceRegisterFuzzTarget`: the interrupt controllers, PIT,
/// RTC, ACPI PM, two UARTs, the test device, the PCI host bridge with virtio-rng and virtio-blk
/// behind it, the devices' MSRs and CPUID hooks) driven with random accesses of every width, with
/// the device timer thread and the virtio device threads running: no trap, no deadlock (a
/// watchdog), and the machine's devices still stop cleanly. `VMM_FUZZ_SEED` repeats a run; the
/// seed is printed. `scripts/fuzz devices` runs the same target under libFuzzer.
final class DeviceRegisterFuzzTests: XCTestCase {
    private var seed: UInt64 {
        let seed = ProcessInfo.processInfo.environment["VMM_FUZZ_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("DeviceRegisterFuzzTests: seed \(seed) (set VMM_FUZZ_SEED to repeat)")
        return seed
    }

    func testRandomAccessesToEveryDeviceFromFourThreads() throws {
        let seed = self.seed
        let target = try DeviceRegisterFuzzTarget(kernelPath: try GuestKernels.path("hello"))
        XCTAssertGreaterThan(target.busWindowCount, 20, "the PC's devices, the PCI BARs among them, are on the buses")
        let group = DispatchGroup()
        for thread in 0..<DeviceRegisterFuzzTarget.vcpuCount {
            DispatchQueue.global().async(group: group) {
                target.runRandom(count: 50_000, seed: seed &+ UInt64(thread), vcpu: thread)
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 300), .success, "watchdog: a device deadlocked (seed \(seed))")
        XCTAssertEqual(target.reachedBusWindows, target.busWindowCount, "every window was reached")
    }

    /// The byte-driven form libFuzzer uses, mutated by the own mutator: a device reset before each
    /// input, then its accesses, all on this thread while the device threads run.
    func testMutatedAccessSequences() throws {
        let seed = self.seed
        let target = try DeviceRegisterFuzzTarget(kernelPath: try GuestKernels.path("hello"))
        let campaign = FuzzCampaign(seeds: DeviceRegisterFuzzTarget.seeds, seed: seed,
                                    fieldOffsets: DeviceRegisterFuzzTarget.fieldOffsets)
        let finished = DispatchSemaphore(value: 0)
        let outcome = Mutex<FuzzCampaign.Result?>(nil)
        DispatchQueue.global().async {
            let result = campaign.run(iterations: 3_000, check: target.check)
            outcome.withLock { $0 = result }
            finished.signal()
        }
        XCTAssertEqual(finished.wait(timeout: .now() + 300), .success, "watchdog: a device deadlocked (seed \(seed))")
        let result = outcome.withLock { $0 }
        XCTAssertEqual(result?.executions, 3_000)
        XCTAssertEqual(result?.findings, [])
        XCTAssertLessThanOrEqual(target.windowCount, DeviceRegisterFuzzTarget.seeds.count, "a seed for each window")
        XCTAssertEqual(target.reachedBusWindows, target.busWindowCount, "so every window was reached")
    }
}
