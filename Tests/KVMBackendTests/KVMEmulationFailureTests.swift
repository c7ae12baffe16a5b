import KVMBackend
import VMMKit
import XCTest

final class KVMEmulationFailureTests: XCTestCase {
    /// CMPXCHG16B at CPL 0 in 64-bit mode. On a PVM host KVM's emulator runs supervisor code and
    /// cannot emulate it: the run must fail with a message naming the host limitation, RIP and the bytes.
    func testEmulationFailureReportsRIPAndInstructionBytes() throws {
        try requireKVM()
        // mov esi, data; cmpxchg16b [rsi] (REX.W 0F C7 /1); hlt
        let cmpxchg16b: [UInt8] = [0x48, 0x0f, 0xc7, 0x0e]
        let code = X86.movESI(UInt32(TestLayout.data)) + cmpxchg16b + X86.hlt
        let (machine, _) = try makeMachine(code: code, longMode: true)
        let outcome = try runOnKVM(machine)
        if outcome == .poweredOff {
            throw XCTSkip("this host executes CMPXCHG16B at CPL 0 without KVM's emulator, so there is no emulation failure to report")
        }
        guard case let .failed(message) = outcome else { return XCTFail("expected a failure, got \(outcome)") }
        XCTAssertTrue(message.contains("host KVM limitation"), message)
        XCTAssertTrue(message.contains("RIP 0x1005"), message)
        XCTAssertTrue(message.contains("48 0f c7 0e"), message)
    }
}
