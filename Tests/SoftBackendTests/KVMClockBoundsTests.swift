import TestSupport
import VMMKit
import XCTest
@testable import SoftBackend

/// The Soft CPU's kvmclock pages (MSR_KVM_SYSTEM_TIME_NEW, MSR_KVM_WALL_CLOCK_NEW) at guest addresses
/// outside RAM (`HostileGuestRange`) or in ROM: ignored, as KVM ignores them; nothing is written.
final class KVMClockBoundsTests: XCTestCase {
    func testClockPagesOutsideRAMAreNotWritten() throws {
        let memory = try HostileGuestRange.pcShapedMemory()
        let rom = try memory.addRegion(name: "ROM", at: 0xFFFF_0000, size: 0x1_0000, kind: .rom)
        // Each range's start, where a 32-byte page there would not lie in one region (the over-long range
        // starts at address 0, which is RAM).
        let addresses = HostileGuestRange.all(in: memory).map(\.address).filter { memory.region(containing: $0, length: 32) == nil }
            + [rom.guestBase, rom.guestEnd - 16]
        for address in addresses {
            KVMClock.writeTimeInfo(at: address, tsc: 1, now: 2, into: memory)
            KVMClock.writeWallClock(at: address, into: memory)
        }
        for region in memory.regions {
            let bytes = UnsafeRawBufferPointer(start: region.host, count: Int(region.size))
            XCTAssertNil(bytes.firstIndex { $0 != 0 }, "\(region.name) was written")
        }
        // In RAM both are written.
        KVMClock.writeTimeInfo(at: 0x1000, tsc: 1, now: 2, into: memory)
        XCTAssertEqual(try memory.read(UInt32.self, at: 0x1000), 2, "version: odd while writing, even after")
    }
}
