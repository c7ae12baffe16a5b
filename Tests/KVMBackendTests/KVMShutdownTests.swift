import KVMBackend
import VMMKit
import XCTest

final class KVMShutdownTests: XCTestCase {
    /// UD2 with an empty IDT (limit 0): #UD cannot be delivered (#GP), nor can that (#DF), which is a
    /// triple fault: KVM_EXIT_SHUTDOWN (SDM vol. 3, 6.15, interrupt 8). The outcome carries a register dump.
    func testTripleFaultShutsDownWithARegisterDump() throws {
        try requireKVM()
        let (machine, _) = try makeMachine(code: X86.movEAX(0x1234_5678) + X86.ud2)
        let outcome = try runOnKVM(machine)
        if case let .failed(message) = outcome, message.contains("host KVM limitation") {
            throw XCTSkip("this host's KVM cannot deliver the fault that leads to the triple fault: \(message)")
        }
        guard case let .shutdown(vcpu, dump) = outcome else {
            return XCTFail("expected a shutdown, got \(outcome)")
        }
        XCTAssertEqual(vcpu, 0)
        XCTAssertTrue(dump.contains("RAX=0000000012345678"), dump)
        XCTAssertTrue(dump.contains("RIP="), dump)
        XCTAssertTrue(dump.contains("CR0="), dump)
        XCTAssertTrue(dump.contains("EFER="), dump)
        XCTAssertTrue(dump.contains("CS =0010"), dump)
    }
}
