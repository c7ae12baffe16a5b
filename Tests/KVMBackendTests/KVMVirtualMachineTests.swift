import KVMBackend
import KernelLoading
import VMMKit
import XCTest

final class KVMVirtualMachineTests: XCTestCase {
    func testCreatingTheSameVCPUTwiceFails() throws {
        try requireKVM()
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 2)
        let vm = try KVMBackend().createVM(for: machine)
        _ = try vm.createVCPU(index: 0)
        XCTAssertThrowsError(try vm.createVCPU(index: 0)) { error in
            XCTAssertEqual(error as? KVMError, .vcpuAlreadyCreated(index: 0))
            XCTAssertEqual("\(error)", "vCPU 0 was already created in this VM")
        }
        XCTAssertThrowsError(try vm.createVCPU(index: 2)) { error in
            XCTAssertEqual(error as? KVMError, .vcpuIndexOutOfRange(index: 2, count: 2))
        }
        XCTAssertNoThrow(try vm.createVCPU(index: 1))
    }

    /// Registers written through the VirtualCPU API read back unchanged.
    func testRegistersRoundTrip() throws {
        try requireKVM()
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        let vcpu = try KVMBackend().createVM(for: machine).createVCPU(index: 0)
        let state = BootState.flatProtectedMode(entry: 0x1234, eax: 0x2bad_b002, ebx: 0x1_0000)
        try vcpu.setSystemRegisters(state.system)
        try vcpu.setGeneralRegisters(state.general)
        XCTAssertEqual(try vcpu.generalRegisters(), state.general)
        let system = try vcpu.systemRegisters()
        XCTAssertEqual(system.cs, state.system.cs)
        XCTAssertEqual(system.ds, state.system.ds)
        XCTAssertEqual(system.gdt, state.system.gdt)
        XCTAssertEqual(system.cr0 & ControlBits.cr0PE, ControlBits.cr0PE)

        var debug = DebugRegisters()
        debug.dr0 = 0x1000
        try vcpu.setDebugRegisters(debug)
        XCTAssertEqual(try vcpu.debugRegisters().dr0, 0x1000)

        // IA32_SYSENTER_CS (SDM vol. 4, table 2-2): a plain read/write MSR every KVM host keeps.
        try vcpu.writeMSR(0x174, value: 0x10)
        XCTAssertEqual(try vcpu.readMSR(0x174), 0x10)
    }

    func testAvailabilityGivesAReason() throws {
        let availability = KVMBackend().availability()
        XCTAssertFalse(availability.reason.isEmpty)
        if case .usable = availability {
            XCTAssertTrue(availability.reason.contains("emulated"), availability.reason)
        }
    }
}
