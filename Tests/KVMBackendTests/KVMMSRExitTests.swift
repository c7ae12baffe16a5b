import KVMBackend
import Synchronization
import VMMKit
import XCTest

final class KVMMSRExitTests: XCTestCase {
    static let claimedMSR: UInt32 = 0x4000_0105

    /// RDMSR and WRMSR of a device-claimed index exit to userspace through KVM's MSR filter and reach
    /// the device's handler; the guest sees the handler's value.
    func testClaimedMSRsReachTheirHandler() throws {
        try requireKVM()
        var code = X86.movECX(Self.claimedMSR) + X86.rdmsr + X86.movDX(TestLayout.testPorts) + X86.outDXEAX
        code += X86.movEAX(0x77) + X86.xorEDXEDX + X86.wrmsr + X86.hlt
        let (machine, device) = try makeMachine(code: code)
        let handler = RecordingMSRHandler()
        try machine.msrs.claim(Self.claimedMSR...Self.claimedMSR, by: handler, name: "test MSR")

        XCTAssertEqual(try runOnKVM(machine), .poweredOff)
        XCTAssertEqual(device.writes.map(\.value), [RecordingMSRHandler.readValue])
        XCTAssertEqual(handler.writes, [0x77])
        XCTAssertEqual(machine.vcpus[0].statistics.msr.value, 2)
    }
}

final class RecordingMSRHandler: MSRHandler, @unchecked Sendable {
    static let readValue: UInt64 = 0xabcd_0123
    private let log = Mutex<[UInt64]>([])
    var writes: [UInt64] { log.withLock { $0 } }

    func readMSR(_ index: UInt32, vcpu: Int) -> UInt64? { Self.readValue }
    func writeMSR(_ index: UInt32, value: UInt64, vcpu: Int, isLongMode: () -> Bool) -> Bool {
        log.withLock { $0.append(value) }
        return true
    }
}
