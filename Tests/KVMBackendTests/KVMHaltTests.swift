import Synchronization
import KVMBackend
import VMMKit
import XCTest

final class KVMHaltTests: XCTestCase {
    /// HLT with interrupts off and nothing to wake the only vCPU powers the machine off.
    func testHaltWithInterruptsOffPowersOff() throws {
        try requireKVM()
        let (machine, device) = try makeMachine(code: X86.cli + X86.out(TestLayout.testPorts, al: 1) + X86.hlt)
        XCTAssertEqual(try runOnKVM(machine), .poweredOff)
        XCTAssertEqual(device.writes.count, 1)
    }

    /// A guest spinning forever is kicked out of KVM_RUN by the watchdog's stop request.
    func testKickEndsAGuestThatNeverExits() throws {
        try requireKVM()
        let (machine, _) = try makeMachine(code: X86.jumpToSelf)
        XCTAssertEqual(try runOnKVM(machine, timeout: 0.5), .timedOut(seconds: 0.5))
    }

    /// Two vCPUs: the application processor waits for INIT/SIPI, starts in real mode at the SIPI
    /// vector's page, reports itself on a port and halts; the machine is off once both have halted.
    func testApplicationProcessorStartsAtTheStartupVector() throws {
        try requireKVM()
        let (machine, device) = try makeMachine(code: X86.out(TestLayout.testPorts, al: 0xb5) + X86.hlt, vcpuCount: 2)
        // 16-bit code: mov dx, imm16 (BA iw); mov al, 0x99; out dx, al; hlt.
        let startupPage: UInt8 = 0x08
        let realModeCode: [UInt8] = [0xba] + X86.le16(UInt16(TestLayout.testPorts + 1)) + X86.movAL(0x99)
            + X86.outDXAL + X86.hlt
        try machine.memory.write(realModeCode, at: UInt64(startupPage) << 12)
        machine.interruptSource = StartupOnlyController(startupVector: startupPage)

        XCTAssertEqual(try runOnKVM(machine), .poweredOff)
        XCTAssertEqual(Set(device.writes.map { "\($0.vcpu):\(String($0.value, radix: 16))" }), ["0:b5", "1:99"])
    }
}

/// An interrupt controller that only sends INIT and one SIPI to vCPU 1.
final class StartupOnlyController: InterruptSource, @unchecked Sendable {
    private let signals: Mutex<[StartupSignal]>
    init(startupVector: UInt8) { signals = Mutex([.initialize, .startup(vector: startupVector)]) }
    func hasPendingInterrupt(vcpu: Int) -> Bool { false }
    func acknowledgeInterrupt(vcpu: Int) -> UInt8? { nil }
    func takeNonMaskableInterrupt(vcpu: Int) -> Bool { false }
    func taskPriority(vcpu: Int) -> UInt8 { 0 }
    func setTaskPriority(vcpu: Int, _ value: UInt8) {}
    func takeStartupSignal(vcpu: Int) -> StartupSignal? {
        guard vcpu == 1 else { return nil }
        return signals.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }
}
