import KVMBackend
import VMMKit
import XCTest

final class KVMLongModeTests: XCTestCase {
    /// 64-bit code entered through BootState.longMode writes both halves of a 64-bit register to a port.
    func testLongModeGuestRunsSixtyFourBitCode() throws {
        try requireKVM()
        let value: UInt64 = 0x1122_3344_5566_7788
        let code = X86.movDX(TestLayout.testPorts) + X86.movRAX(value) + X86.outDXEAX + X86.shrRAX(32)
            + X86.outDXEAX + X86.hlt
        let (machine, device) = try makeMachine(code: code, longMode: true)

        XCTAssertEqual(try runOnKVM(machine), .poweredOff)
        XCTAssertEqual(device.writes.map(\.value), [0x5566_7788, 0x1122_3344])
        let system = try machine.vcpus[0].systemRegisters()
        XCTAssertNotEqual(system.efer & ControlBits.eferLMA, 0)
    }
}
