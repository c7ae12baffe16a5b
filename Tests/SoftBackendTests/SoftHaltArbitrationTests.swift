import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// The halted-forever rule is `VCPUArbitration`'s, shared with KVM: with several Soft vCPUs the
/// machine is off once the BSP halts with interrupts off and the APs wait for a SIPI that nobody
/// can send any more. (The Soft backend's own rule held for one vCPU only: such a machine ran
/// until its timeout.)
final class SoftHaltArbitrationTests: XCTestCase {
    private static let code: UInt64 = 0x10_0000
    /// Generous: a debug build on a loaded machine; the run normally ends at once.
    private static let watchdog: Double = 120

    private func runHaltingGuest(vcpus: Int, code: [UInt8], timeout: Double = watchdog) throws -> MachineOutcome {
        let machine = try Machine(memorySize: 16 << 20, vcpuCount: vcpus)
        try BootGDT.write(into: machine.memory)
        try machine.memory.write(code, at: Self.code)
        machine.bootState = .flatProtectedMode(entry: UInt32(Self.code), eax: 0, ebx: 0)
        return try machine.run(on: SoftBackend(), timeout: timeout)
    }

    func testEveryVCPUWaitingOnAnotherPowersTheMachineOff() throws {
        // cli; hlt
        XCTAssertEqual(try runHaltingGuest(vcpus: 3, code: [0xfa, 0xf4]), .poweredOff)
    }

    func testOneVCPUHaltedWithInterruptsOffPowersOff() throws {
        XCTAssertEqual(try runHaltingGuest(vcpus: 1, code: [0xfa, 0xf4]), .poweredOff)
    }

    /// HLT with IF = 1 can still be woken by an interrupt, so the machine stays on until stopped
    /// (the short timeout is the expected end, not a speed limit).
    func testHaltWithInterruptsOnWaitsForTheStopRequest() throws {
        // sti; hlt; jmp back to hlt
        XCTAssertEqual(try runHaltingGuest(vcpus: 2, code: [0xfb, 0xf4, 0xeb, 0xfd], timeout: 0.5),
                       .timedOut(seconds: 0.5))
    }
}
