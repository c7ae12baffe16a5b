import Foundation
import PCBoard
import TestSupport
import VMMKit
import XCTest

/// A hostile guest may hit any port with any size and value: the RTC/CMOS and ACPI PM ports of a
/// PC, driven with seeded random accesses (register selects, time bytes, SET and divider changes,
/// odd offsets and sizes), never trap and never stop the machine.
final class HostilePortTests: XCTestCase {
    func testRandomAccessesToTheRTCAndACPIPorts() throws {
        // Built on first use, so a fresh clone runs these instead of skipping them.
        let kernel = try GuestKernels.path("hello")
        let machine = try PCBoard.assemble(MachineDescription(kernelPath: kernel, memorySize: 16 << 20, serial: .none),
                                           registry: try PCBoard.deviceRegistry())
        defer { machine.devices.forEach { $0.stop() } }
        var state: UInt64 = 0x5eed_1234
        func next() -> UInt64 { // splitmix64: deterministic, so a failure reproduces
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
        let ports: [UInt64] = [0x70, 0x71] + (0..<12).map { 0xB000 + $0 }
        for _ in 0..<50_000 {
            let random = next()
            let port = ports[Int(random % UInt64(ports.count))]
            let size = [1, 2, 4][Int((random >> 8) % 3)]
            if random >> 16 & 1 == 0 {
                _ = machine.ports.read(port, size: size, vcpu: 0)
            } else if port != 0xB004 && port != 0xB005 { // the PM control block would power off (tested elsewhere)
                machine.ports.write(port, size: size, value: next(), vcpu: 0)
            }
        }
        XCTAssertFalse(machine.runControl.isStopRequested)
    }
}
