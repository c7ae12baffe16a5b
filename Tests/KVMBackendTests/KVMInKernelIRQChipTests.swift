import KVMBackend
import VMMKit
import XCTest

final class KVMInKernelIRQChipTests: XCTestCase {
    /// With `.inKernel` placement the VM creates KVM's irqchip and PIT and offers it as the sink the
    /// machine connects its lines to (as `Machine.run` does); an ISA line reaches both the PIC and
    /// the IOAPIC, as KVM's default routing says.
    func testInKernelControllerRoutesISALinesToPICAndIOAPIC() throws {
        try requireKVM()
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        machine.interruptControllerPlacement = .inKernel
        let vm = try XCTUnwrap(try KVMBackend().createVM(for: machine) as? KVMVirtualMachine)
        let controller = try XCTUnwrap(vm.inKernelIRQChip)
        XCTAssertTrue(vm.inKernelInterruptSink === controller)
        machine.interruptRouter.connect(controller)

        machine.irqLine(4).raise()
        XCTAssertEqual(try controller.picState(secondary: false).interruptRequest & (1 << 4), 1 << 4)
        XCTAssertEqual(try controller.ioapicState().interruptRequest & (1 << 4), 1 << 4)
        machine.irqLine(4).lower()
        XCTAssertEqual(try controller.ioapicState().interruptRequest & (1 << 4), 0)
        // Redirection entries start masked (SDM-era 82093AA data sheet, 3.2.4: bit 16).
        XCTAssertEqual(try controller.ioapicState().redirectionTable[4] & (1 << 16), 1 << 16)
        XCTAssertNil(machine.interruptSource, "KVM delivers the in-kernel irqchip's interrupts itself")
    }

    func testCreatingTheIRQChipTwiceFails() throws {
        try requireKVM()
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: 1)
        machine.interruptControllerPlacement = .inKernel
        let vm = try XCTUnwrap(try KVMBackend().createVM(for: machine) as? KVMVirtualMachine)
        XCTAssertThrowsError(try vm.createInKernelIRQChip()) { error in
            XCTAssertEqual(error as? KVMError, .irqchipAlreadyCreated)
        }
    }

    /// The vCPU's in-kernel local APIC reports its ID and KVM's APIC version through KVM_GET_LAPIC.
    func testLocalAPICStateIsReadable() throws {
        try requireKVM()
        let (machine, vm) = try inKernelVM(vcpuCount: 2)
        // The VM holds its machine unowned.
        try withExtendedLifetime(machine) {
            _ = try vm.createKVMVCPU(index: 0)
            let vcpu = try vm.createKVMVCPU(index: 1)
            XCTAssertEqual(try vcpu.localAPICRegister(at: 0x20) >> 24, 1)
            XCTAssertEqual(try vcpu.localAPICRegister(at: 0x30) & 0xff, 0x14)
        }
    }

    /// An MSI sent through an `MSIEventRoute` with the in-kernel irqchip is an irqfd's: the route's
    /// eventfd is bound to a GSI routed to the message, and KVM's irqfd takes the signal as it
    /// injects (irqfd_wakeup reads the counter), so the eventfd reads empty afterwards. A new message
    /// for the same source is routed again; a second source gets its own GSI.
    func testMSIsThroughEventRoutesAreRaisedByIRQFDs() throws {
        try requireKVM()
        let (machine, vm) = try inKernelVM(vcpuCount: 1)
        _ = try vm.createKVMVCPU(index: 0)
        let controller = try XCTUnwrap(vm.inKernelIRQChip)
        machine.interruptRouter.connect(controller)
        let first = try MSIEventRoute(), second = try MSIEventRoute()
        XCTAssertTrue(controller.route(first.event, to: MSIMessage(address: 0xFEE0_0000, data: 0x51)))
        for data: UInt32 in [0x51, 0x51, 0x52] {
            machine.interruptRouter.send(MSIMessage(address: 0xFEE0_0000, data: data), through: first)
            XCTAssertEqual(first.event.take(), 0, "vector 0x\(String(data, radix: 16)): KVM's irqfd took the signal")
        }
        machine.interruptRouter.send(MSIMessage(address: 0xFEE0_0000, data: 0x53), through: second)
        XCTAssertEqual(second.event.take(), 0, "a second source's irqfd")
        // A plain eventfd nobody bound keeps its count: the check above means something.
        let unbound = try EventNotifier()
        unbound.signal()
        XCTAssertEqual(unbound.take(), 1)
    }

    /// A 1 MiB machine with KVM's irqchip and its VM, no vCPU yet.
    private func inKernelVM(vcpuCount: Int) throws -> (Machine, KVMVirtualMachine) {
        let machine = try Machine(memorySize: 1 << 20, vcpuCount: vcpuCount)
        machine.interruptControllerPlacement = .inKernel
        return (machine, try XCTUnwrap(try KVMBackend().createVM(for: machine) as? KVMVirtualMachine))
    }

    /// A guest runs with the in-kernel irqchip and stops through a port write.
    func testGuestRunsWithTheInKernelIRQChip() throws {
        try requireKVM()
        let (machine, device) = try makeMachine(
            code: X86.out(TestLayout.testPorts, al: 3) + X86.out(TestLayout.exitPort, al: 0) + X86.jumpToSelf,
            placement: .inKernel)
        XCTAssertEqual(try runOnKVM(machine), .guestExit(value: 0))
        XCTAssertEqual(device.writes.first?.value, 3)
    }
}
