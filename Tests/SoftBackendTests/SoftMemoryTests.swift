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
        nonisolated(unsafe) let results = UnsafeMutableBufferPointer<SoftStepOutcome?>.allocate(capacity: 2)
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

    /// vCPU 1 rewrites code vCPU 0 has already decoded; vCPU 0 must run the new bytes.
    func testCodeRewrittenByAnotherVCPUIsSeen() throws {
        // vCPU 0: mov $0x100020,%rdi; call *%rdi; mov %al,%bl; call *%rdi; hlt; .org 0x20: mov $7,%al; ret
        // vCPU 1, at 0x40: movb $0x42,0x100021; hlt
        let code: [UInt8] = [0x48, 0xc7, 0xc7, 0x20, 0x00, 0x10, 0x00, 0xff, 0xd7, 0x88, 0xc3, 0xff, 0xd7, 0xf4]
            + [UInt8](repeating: 0, count: 18) + [0xb0, 0x07, 0xc3] + [UInt8](repeating: 0, count: 29)
            + [0xc6, 0x04, 0x25, 0x21, 0x00, 0x10, 0x00, 0x42, 0xf4]
        let fixture = try SoftCPUFixture(.long64, code: code, vcpuCount: 2)
        let vm = try SoftBackend().createVM(for: fixture.machine)
        let vcpus = try (0..<2).map { index throws -> SoftVirtualCPU in
            let vcpu = try XCTUnwrap(try vm.createVCPU(index: index) as? SoftVirtualCPU)
            try vcpu.setSystemRegisters(try fixture.cpu.systemRegisters())
            try vcpu.setGeneralRegisters(try fixture.cpu.generalRegisters())
            return vcpu
        }
        XCTAssertEqual(try vcpus[0].step(instructions: 4), .completed) // the routine at 0x20 is now decoded
        var registers = try vcpus[1].generalRegisters()
        registers.rip = SoftCPUFixture.codeAddress + 0x40
        try vcpus[1].setGeneralRegisters(registers)
        XCTAssertEqual(try vcpus[1].step(instructions: 5), .halted)
        XCTAssertEqual(try vcpus[0].step(instructions: 10), .halted)
        let result = try vcpus[0].generalRegisters()
        XCTAssertEqual(result.rbx & 0xff, 7)
        XCTAssertEqual(result.rax & 0xff, 0x42)
    }
}
