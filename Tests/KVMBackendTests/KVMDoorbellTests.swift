import KVMBackend
import Synchronization
import VMMKit
import XCTest

/// Doorbells as KVM_IOEVENTFDs on a real VM: a matching write signals the eventfd inside the
/// kernel (no exit: the recording device never sees it, and the vCPU counts no userspace ring),
/// a write of another value or at a deassigned address exits as usual, and a doorbell moved while
/// the VM runs (a deassign at the old address, an assign at the new) rings at the new place only.
final class KVMDoorbellTests: XCTestCase {
    /// A port whose write moves `doorbell` to `destination`, as a BAR write moves a virtio doorbell.
    private final class Mover: Device, BusDevice, @unchecked Sendable {
        static let port: UInt64 = 0x580
        let name = "mover"
        let doorbell: Doorbell
        let destination: UInt64

        init(doorbell: Doorbell, destination: UInt64) {
            self.doorbell = doorbell
            self.destination = destination
        }

        func attach(to machine: Machine) throws { try machine.ports.claim(base: Self.port, length: 1, by: self, name: name) }
        func read(_ access: BusAccess) -> UInt64 { 0 }
        func write(_ access: BusAccess, value: UInt64) { doorbell.move(to: destination) }
    }

    func testDoorbellsRingInTheKernelAndFollowAMove() throws {
        try requireKVM()
        let first = TestLayout.testPorts + 3, second = TestLayout.testPorts + 1
        let mmioDoorbell = UInt32(TestLayout.testMMIO + 8)
        let code = X86.out(second, al: 1)              // not a doorbell yet: an exit
            + X86.out(Mover.port, al: 0)               // the doorbell moves from `first` to `second`
            + X86.out(second, al: 1)                   // rings in the kernel
            + X86.out(first, al: 1)                    // deassigned: an exit
            + X86.movEAX(0x600D) + X86.storeEAX(to: mmioDoorbell)  // matches: rings
            + X86.movEAX(0x600E) + X86.storeEAX(to: mmioDoorbell)  // another value: an exit
            + X86.out(TestLayout.exitPort, al: 0) + X86.jumpToSelf
        let (machine, device) = try makeMachine(code: code)
        let port = try machine.ports.doorbells.declare(name: "port", width: 1)
        let mmio = try machine.mmio.doorbells.declare(name: "mmio", width: 4, match: 0x600D)
        port.move(to: first)
        mmio.move(to: UInt64(mmioDoorbell))
        try machine.add(Mover(doorbell: port, destination: second))
        XCTAssertEqual(try runOnKVM(machine), .guestExit(value: 0))
        XCTAssertEqual(device.writes.map(\.address), [second, first, UInt64(mmioDoorbell), TestLayout.exitPort],
                       "the writes that exited")
        XCTAssertEqual(device.writes.first { $0.address == UInt64(mmioDoorbell) }?.value, 0x600E)
        XCTAssertEqual(port.take(), 1, "one ring at the new place")
        XCTAssertEqual(mmio.take(), 1, "one matching MMIO write")
        XCTAssertEqual(machine.statistics.first { $0.0 == ExitStatistics.doorbellsRow }?.1, 0,
                       "none rung in userspace: KVM signalled both")
    }
}
