import KVMBackend
import VMMKit
import XCTest

final class KVMPortIOTests: XCTestCase {
    typealias Access = RecordingDevice.Access

    /// OUT of each width reaches the device with its value; IN returns the device's answer to the guest,
    /// which echoes it back; REP OUTSB arrives as one exit with several items.
    func testPortWritesAndReadRoundTrip() throws {
        try requireKVM()
        let port = TestLayout.testPorts
        let string: [UInt8] = [0x61, 0x62, 0x63]
        var code = X86.out(port, al: 0x42)
        code += X86.movAX(0x1234) + X86.outDXAX
        code += X86.movEAX(0xdead_beef) + X86.outDXEAX
        code += X86.inALDX + X86.movDX(port + 1) + X86.outDXAL
        code += X86.movESI(UInt32(TestLayout.data)) + X86.movECX(UInt32(string.count)) + X86.movDX(port + 2)
        code += X86.repOutsb + X86.hlt
        let (machine, device) = try makeMachine(code: code)
        try machine.memory.write(string, at: TestLayout.data)

        XCTAssertEqual(try runOnKVM(machine), .poweredOff)

        let expected = [
            Access(address: port, size: 1, value: 0x42, vcpu: 0),
            Access(address: port, size: 2, value: 0x1234, vcpu: 0),
            Access(address: port, size: 4, value: 0xdead_beef, vcpu: 0),
            Access(address: port + 1, size: 1, value: RecordingDevice.portReadValue, vcpu: 0),
        ] + string.map { Access(address: port + 2, size: 1, value: UInt64($0), vcpu: 0) }
        XCTAssertEqual(device.writes, expected)
        XCTAssertGreaterThanOrEqual(machine.vcpus[0].statistics.portIO.value, 5)
        XCTAssertEqual(machine.vcpus[0].statistics.halt.value, 1)
    }

    /// A debug-exit style write stops the machine with the guest's value.
    func testGuestExitStopsTheMachine() throws {
        try requireKVM()
        let (machine, _) = try makeMachine(code: X86.out(TestLayout.exitPort, al: 7) + X86.jumpToSelf)
        XCTAssertEqual(try runOnKVM(machine), .guestExit(value: 7))
    }
}
