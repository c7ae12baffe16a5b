import KVMBackend
import Synchronization
import VMMKit
import XCTest
import KernelLoading

final class KVMInterruptInjectionTests: XCTestCase {
    static let vector: UInt8 = 0x30

    /// A userspace controller's pending interrupt waits for the guest's STI (an interrupt window), is
    /// acknowledged and injected with KVM_INTERRUPT, and runs the IDT handler, which reports on a port.
    func testPendingInterruptIsInjectedWhenTheGuestEnablesInterrupts() throws {
        try requireKVM()
        let handler = TestLayout.code + 0x100
        let main = X86.out(TestLayout.testPorts, al: 1) + X86.sti + X86.nop + X86.hlt + X86.jumpToSelf
        let (machine, device) = try makeMachine(code: main)
        // The handler runs with IF = 0 (interrupt gate): report, then halt for good.
        try machine.memory.write(X86.out(TestLayout.testPorts, al: Self.vector) + X86.hlt, at: handler)
        try writeInterruptGate(machine.memory, vector: Self.vector, handler: UInt32(handler))
        // Delivery pushes EFLAGS, CS and EIP: the stack must be in RAM.
        machine.bootState.general.rsp = BootLayout.standard.stackTop
        machine.bootState.system.idt = DescriptorTableRegister(base: TestLayout.idt, limit: UInt16(Self.vector) * 8 + 7)
        let controller = OneInterruptController(vector: Self.vector)
        machine.interruptSource = controller

        XCTAssertEqual(try runOnKVM(machine), .poweredOff)
        XCTAssertEqual(device.writes.map(\.value), [1, UInt64(Self.vector)])
        XCTAssertEqual(controller.acknowledged, 1)
        XCTAssertEqual(machine.vcpus[0].statistics.interruptsInjected.value, 1)
    }

    /// A guest MOV to CR8 reaches the controller as its task priority (kvm_run->cr8 after the exit).
    func testGuestCR8WritesReachTheController() throws {
        try requireKVM()
        // 64-bit code: mov eax, 5; mov cr8, rax (REX.R 0F 22 /r); out to the test port; hlt.
        let moveToCR8: [UInt8] = [0x44, 0x0f, 0x22, 0xc0]
        let code = X86.movEAX(5) + moveToCR8 + X86.out(TestLayout.testPorts, al: 1) + X86.hlt
        let (machine, device) = try makeMachine(code: code, longMode: true)
        let controller = OneInterruptController(vector: nil)
        machine.interruptSource = controller

        XCTAssertEqual(try runOnKVM(machine), .poweredOff)
        XCTAssertEqual(device.writes.count, 1)
        XCTAssertEqual(controller.taskPriorities, [5])
    }

    /// A 32-bit interrupt gate (SDM vol. 3, 6.11): selector 0x10, present, DPL 0, type 0xE.
    private func writeInterruptGate(_ memory: GuestMemory, vector: UInt8, handler: UInt32) throws {
        let low = UInt64(handler & 0xffff) | UInt64(BootGDT.code32Selector) << 16
        let high = UInt64(0x8e00) | UInt64(handler & 0xffff_0000)
        try memory.write(low | high << 32, at: TestLayout.idt + UInt64(vector) * 8)
    }
}

/// An interrupt controller with at most one interrupt, pending from the start, that records the
/// task priorities the vCPU reports.
final class OneInterruptController: InterruptSource, @unchecked Sendable {
    private let pending: Mutex<UInt8?>
    private let acknowledgements = Mutex(0)
    private let priorities = Mutex<[UInt8]>([])
    var acknowledged: Int { acknowledgements.withLock { $0 } }
    var taskPriorities: [UInt8] { priorities.withLock { $0 } }

    init(vector: UInt8?) { pending = Mutex(vector) }
    func hasPendingInterrupt(vcpu: Int) -> Bool { pending.withLock { $0 != nil } }
    func acknowledgeInterrupt(vcpu: Int) -> UInt8? {
        acknowledgements.withLock { $0 += 1 }
        return pending.withLock { vector in
            defer { vector = nil }
            return vector
        }
    }
    func takeNonMaskableInterrupt(vcpu: Int) -> Bool { false }
    func taskPriority(vcpu: Int) -> UInt8 { priorities.withLock { $0.last ?? 0 } }
    func setTaskPriority(vcpu: Int, _ value: UInt8) { priorities.withLock { $0.append(value) } }
    func takeStartupSignal(vcpu: Int) -> StartupSignal? { nil }
}
