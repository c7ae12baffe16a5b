import KVMBackend
import VMMKit
import XCTest

final class KVMMMIOTests: XCTestCase {
    /// A 32-bit MMIO load gets the device's value, which the guest stores back to MMIO; a 16-bit store
    /// arrives with its width.
    func testMMIOReadWriteRoundTrip() throws {
        try requireKVM()
        let base = UInt32(TestLayout.testMMIO)
        var code = X86.loadEAX(from: base) + X86.storeEAX(to: base + 0x10)
        code += X86.storeWord(0xbeef, to: base + 0x20) + X86.hlt
        let (machine, device) = try makeMachine(code: code)

        XCTAssertEqual(try runOnKVM(machine), .poweredOff)

        XCTAssertEqual(device.writes, [
            .init(address: TestLayout.testMMIO + 0x10, size: 4, value: RecordingDevice.mmioReadValue & 0xffff_ffff, vcpu: 0),
            .init(address: TestLayout.testMMIO + 0x20, size: 2, value: 0xbeef, vcpu: 0),
        ])
        XCTAssertEqual(machine.vcpus[0].statistics.mmio.value, 3)
    }
}
