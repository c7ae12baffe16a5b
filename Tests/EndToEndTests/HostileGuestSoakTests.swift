import Foundation
import HostIO
import KVMBackend
import PCBoard
import SoftBackend
import TestSupport
import VMMKit
import XCTest

/// The hostile-smp guest (Tests/Guests/interrupts/multiboot32/hostile-smp) on four vCPUs at once:
/// random port, MMIO and MSR accesses from every vCPU while the device timers run, on Soft and on
/// KVM with either irqchip. vmm must neither crash nor hang (the run's timeout is the watchdog), the
/// guest must get to count every access, and a good guest must then boot in the same process.
///
/// The suite's run is short; the soak is the same test with more accesses, for example
/// `VMM_HOSTILE_ACCESSES=10000000 swift test --filter HostileGuestSoakTests` (docs/reliability.md has
/// the figures). `VMM_HOSTILE_SEED` repeats a run; the seed is printed.
final class HostileGuestSoakTests: XCTestCase {
    static let accesses = ProcessInfo.processInfo.environment["VMM_HOSTILE_ACCESSES"].flatMap { Int($0) } ?? 40_000
    static let seed = ProcessInfo.processInfo.environment["VMM_HOSTILE_SEED"].flatMap { UInt64($0) }
        ?? UInt64.random(in: 1...UInt64(UInt32.max))
    static let memorySize: UInt64 = 128 << 20
    /// Generous, for a debug build on a loaded machine: a watchdog, not a speed bound.
    static var watchdog: Double { max(600, Double(accesses) / 2_000) }

    func testFourVCPUsOnSoft() throws {
        try storm(on: SoftBackend(), placement: .userspace, anyMSR: true)
    }

    func testFourVCPUsOnKVMWithTheUserspaceIRQChip() throws {
        try EndToEnd.requireKVM()
        try storm(on: KVMBackend(), placement: .userspace, anyMSR: false)
    }

    func testFourVCPUsOnKVMWithTheInKernelIRQChip() throws {
        try EndToEnd.requireKVM()
        try storm(on: KVMBackend(), placement: .inKernel, anyMSR: false)
    }

    /// `anyMSR`: random MSR indices too, their #GP skipped by the guest's handler, which returns with
    /// a 32-bit IRET (which a PVM host's KVM cannot emulate, so KVM runs keep to MSRs that exist).
    private func storm(on backend: any CPUBackend, placement: InterruptControllerPlacement, anyMSR: Bool,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let commandLine = "cpus=4 accesses=\(Self.accesses) seed=\(Self.seed) anymsr=\(anyMSR ? 1 : 0) ramend=\(Self.memorySize)"
        print("HostileGuestSoakTests: hostile-smp \(commandLine) on \(type(of: backend)), irqchip \(placement.rawValue) "
            + "(VMM_HOSTILE_SEED=\(Self.seed))")
        let output = ConsoleOutput.memory()
        var description = MachineDescription(kernelPath: try GuestKernels.path("hostile-smp"), memorySize: Self.memorySize,
                                             cpus: 4, commandLine: commandLine, serial: .output(output),
                                             devices: ["test-device"], interruptControllerPlacement: placement)
        let started = Self.now
        let outcome = try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
            .run(on: backend, timeout: Self.watchdog)
        output.flush()
        print("HostileGuestSoakTests: \(outcome) after \(String(format: "%.1f", Self.now - started)) s: \(output.capturedText)")
        if EndToEnd.isPVMHost, backend is KVMBackend, outcome == .timedOut(seconds: Self.watchdog) {
            throw XCTSkip(EndToEnd.pvmLimitation + " (\(Self.accesses) accesses within \(Int(Self.watchdog)) s)")
        }
        XCTAssertEqual(outcome, .guestExit(value: 0), output.capturedText, file: file, line: line)
        XCTAssertTrue(output.capturedText.contains("PASS: \(Self.accesses) random port, MMIO and MSR accesses from 4 CPUs\n"),
                      output.capturedText, file: file, line: line)

        // The same backend, in the same process, still boots a good guest.
        let greeting = ConsoleOutput.memory()
        description = MachineDescription(kernelPath: try GuestKernels.path("hello"), memorySize: 64 << 20, serial: .output(greeting),
                                         interruptControllerPlacement: placement)
        let afterwards = try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
            .run(on: backend, timeout: EndToEnd.guestTimeout)
        greeting.flush()
        XCTAssertEqual(afterwards, .guestExit(value: 0), greeting.capturedText, file: file, line: line)
        XCTAssertFalse(greeting.capturedText.isEmpty, "the good guest printed", file: file, line: line)
    }

    private static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
