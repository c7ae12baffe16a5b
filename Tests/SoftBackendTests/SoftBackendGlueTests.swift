import SoftBackend
import KernelLoading
import VMMKit
import XCTest

/// The backend's face to VMMKit: availability, VM/vCPU creation rules, register round trips.
final class SoftBackendGlueTests: XCTestCase {
    func testAvailabilityAndName() {
        XCTAssertEqual(SoftBackend.name, "soft")
        XCTAssertEqual(SoftBackend().availability(), .preferred("a software x86-64 CPU: runs anywhere, no VT needed"))
    }

    func testInKernelInterruptControllersAreRefused() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        machine.interruptControllerPlacement = .inKernel
        XCTAssertThrowsError(try SoftBackend().createVM(for: machine)) { error in
            XCTAssertEqual(error as? SoftBackendError, .inKernelInterruptController)
        }
    }

    func testEachVCPUIndexIsCreatedOnce() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 2)
        let vm = try SoftBackend().createVM(for: machine)
        XCTAssertEqual(try vm.createVCPU(index: 1).index, 1)
        XCTAssertThrowsError(try vm.createVCPU(index: 1))
        XCTAssertThrowsError(try vm.createVCPU(index: 2))
    }

    func testRegistersRoundTrip() throws {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        let cpu = try SoftBackend().makeStandaloneVCPU(machine: machine)
        var general = GeneralRegisters()
        general.rax = 0x1122_3344_5566_7788
        general.r15 = 42
        general.rip = 0x1000
        general.rflags = 0x202 | 0x8d5
        try cpu.setGeneralRegisters(general)
        XCTAssertEqual(try cpu.generalRegisters(), general)
        let system = BootState.longMode(entry: 0x1000).system
        try cpu.setSystemRegisters(system)
        let readBack = try cpu.systemRegisters()
        XCTAssertEqual(readBack.cs, system.cs)
        XCTAssertEqual(readBack.cr0, system.cr0)
        XCTAssertEqual(readBack.efer, system.efer)
        try cpu.writeMSR(0xc000_0082, value: 0xffff_8000_0000_1000)
        XCTAssertEqual(try cpu.readMSR(0xc000_0082), 0xffff_8000_0000_1000)
        XCTAssertThrowsError(try cpu.readMSR(0x1234))
    }
}
