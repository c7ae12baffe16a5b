import KVMBackend
import Synchronization
import VMMKit
import XCTest
import KernelLoading

/// Skips the calling test when this host cannot run KVM guests, saying why.
func requireKVM() throws {
    if case let .unavailable(why) = KVMBackend().availability() {
        throw XCTSkip("KVM is unavailable on this host: \(why)")
    }
}

/// Where the tests put things in guest memory.
enum TestLayout {
    static let code: UInt64 = 0x1000
    static let data: UInt64 = 0x3000
    static let idt: UInt64 = 0x4000
    static let testPorts: UInt64 = 0x500
    static let testMMIO: UInt64 = 0xd000_0000
    /// A write here ends the run with `.guestExit(value:)`, as isa-debug-exit would.
    static let exitPort: UInt64 = testPorts + 0xf
}

/// A 16 MiB machine whose vCPU 0 starts at `TestLayout.code` in flat 32-bit protected mode (or long
/// mode), with `code` there and a `RecordingDevice` on the test ports and MMIO page.
func makeMachine(code: [UInt8], vcpuCount: Int = 1, longMode: Bool = false,
                 placement: InterruptControllerPlacement = .userspace) throws -> (Machine, RecordingDevice) {
    let machine = try Machine(memorySize: 16 << 20, vcpuCount: vcpuCount)
    machine.interruptControllerPlacement = placement
    try BootGDT.write(into: machine.memory)
    if longMode {
        try IdentityPageTables.write(into: machine.memory)
        machine.bootState = .longMode(entry: TestLayout.code)
    } else {
        machine.bootState = .flatProtectedMode(entry: UInt32(TestLayout.code), eax: 0, ebx: 0)
    }
    try machine.memory.write(code, at: TestLayout.code)
    let device = RecordingDevice()
    try machine.add(device)
    return (machine, device)
}

/// Runs `machine` on KVM with a watchdog, so a broken guest or backend cannot hang the test run.
func runOnKVM(_ machine: Machine, timeout: Double = 10) throws -> MachineOutcome {
    try machine.run(on: KVMBackend(), timeout: timeout)
}

/// A bus device that records every write and answers reads with fixed values.
final class RecordingDevice: Device, BusDevice, @unchecked Sendable {
    struct Access: Equatable {
        let address: UInt64
        let size: Int
        let value: UInt64
        let vcpu: Int
    }

    let name = "recorder"
    static let portReadValue: UInt64 = 0x5a
    static let mmioReadValue: UInt64 = 0x1122_3344_5566_7788
    private let log = Mutex<[Access]>([])
    private weak var machine: Machine?

    var writes: [Access] { log.withLock { $0 } }

    func attach(to machine: Machine) throws {
        self.machine = machine
        try machine.ports.claim(base: TestLayout.testPorts, length: 16, by: self, name: name)
        try machine.mmio.claim(base: TestLayout.testMMIO, length: 0x1000, by: self, name: name)
    }

    func read(_ access: BusAccess) -> UInt64 {
        let value = access.address >= TestLayout.testMMIO ? Self.mmioReadValue : Self.portReadValue
        return access.size >= 8 ? value : value & ((1 << UInt64(access.size * 8)) - 1)
    }

    func write(_ access: BusAccess, value: UInt64) {
        log.withLock { $0.append(Access(address: access.address, size: access.size, value: value, vcpu: access.vcpu)) }
        if access.address == TestLayout.exitPort {
            machine?.runControl.requestStop(.guestExit(value: UInt32(truncatingIfNeeded: value)))
        }
    }
}
