import Dispatch
import SoftBackend
import VMMKit
import XCTest

/// Memory-access edge cases: instructions straddling pages, and LOCK atomicity between vCPU threads.
final class SoftMemoryTests: XCTestCase {
    func testInstructionCrossingAPageBoundary() throws {
        // mov $0x12345678,%eax; hlt -- placed so the immediate straddles the 4 KiB boundary.
        let cpu = try SoftCPUFixture(.long64, code: [])
        try cpu.place([0xb8, 0x78, 0x56, 0x34, 0x12, 0xf4], at: 0xffd)
        try cpu.setRegisters { $0.rip = SoftCPUFixture.codeAddress + 0xffd }
        XCTAssertEqual(try cpu.cpu.step(instructions: 2), .halted)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rax, 0x1234_5678)
    }

    func testLockedIncrementsFromTwoVCPUsAreNotLost() throws {
        // mov $100000,%ecx; 1: lock incl 0x200000; dec %ecx; jnz 1b; hlt
        let code: [UInt8] = [0xb9, 0xa0, 0x86, 0x01, 0x00, 0xf0, 0xff, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0xff, 0xc9,
                             0x75, 0xf4, 0xf4]
        let first = try SoftCPUFixture(.long64, code: code, vcpuCount: 2)
        let second = try SoftBackend().makeStandaloneVCPU(machine: first.machine)
        try second.setSystemRegisters(try first.cpu.systemRegisters())
        try second.setGeneralRegisters(try first.cpu.generalRegisters())
        // One slot per thread, written by that thread only and read after both finished.
        let results = UnsafeMutableBufferPointer<SoftStepOutcome?>.allocate(capacity: 2)
        results.initialize(repeating: nil)
        defer { results.deallocate() }
        let group = DispatchGroup()
        for (slot, vcpu) in [first.cpu, second].enumerated() {
            DispatchQueue.global().async(group: group) {
                results[slot] = try? vcpu.step(instructions: 1_000_000)
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 60), .success, "watchdog: the vCPUs did not finish")
        XCTAssertEqual(results[0], .halted)
        XCTAssertEqual(results[1], .halted)
        XCTAssertEqual(try first.machine.memory.read(UInt32.self, at: 0x20_0000), 200_000)
    }
}
