import TestSupport
import XCTest
@testable import KernelLoading
@testable import VMMKit

/// Every accessor of guest memory against the hostile ranges (`HostileGuestRange`: across the end
/// of each RAM region, across 2^32, wrapping at 2^64, inside the MMIO hole, too long): each is
/// refused as documented, writes nothing, and reads nothing from outside guest memory.
final class GuestMemoryBoundsTests: XCTestCase {
    func testGuestMemoryAccessorsRefuseEveryHostileRange() throws {
        let memory = try HostileGuestRange.pcShapedMemory()
        try memory.addRegion(name: "ROM", at: 0xFFFF_0000, size: 0x1_0000, kind: .rom)
        let ranges = HostileGuestRange.all(in: memory)
        for range in ranges {
            XCTAssertNil(memory.region(containing: range.address, length: range.length), "\(range)")
            XCTAssertNil(memory.hostPointer(at: range.address, length: range.length), "\(range)")
            XCTAssertNil(memory.ramPointer(at: range.address, length: range.length), "\(range)")
            XCTAssertThrowsError(try memory.readBytes(at: range.address, count: range.length), "\(range)")
            XCTAssertThrowsError(try memory.zero(at: range.address, length: range.length), "\(range)")
            let bytes = [UInt8](repeating: 0xAA, count: min(range.length, 8 << 20))
            XCTAssertThrowsError(try memory.write(bytes, at: range.address), "\(range)")
            XCTAssertThrowsError(try bytes.withUnsafeBytes { try memory.write($0, at: range.address) }, "\(range)")
            // The fixed-width accessors straddle the middle of the range, which is an edge or outside.
            let middle = range.address &+ UInt64(range.length / 2) &- 4
            XCTAssertThrowsError(try memory.read(UInt64.self, at: middle), "\(range)")
            XCTAssertThrowsError(try memory.write(UInt64.max, at: middle), "\(range)")
            XCTAssertThrowsError(try memory.read(UInt32.self, at: middle &+ 2), "\(range)")
            XCTAssertThrowsError(try memory.write(UInt16.max, at: middle &+ 3), "\(range)")
        }
        // ROM reads, but neither the writers nor a device's RAM pointer reach it.
        XCTAssertNotNil(memory.hostPointer(at: 0xFFFF_0000, length: 16))
        XCTAssertNil(memory.ramPointer(at: 0xFFFF_0000, length: 16))
        XCTAssertThrowsError(try memory.write(UInt32(1), at: 0xFFFF_0000))
        Self.assertAllZero(memory)
    }

    /// The gdb stub's memory commands (`MachineDebugTarget`): a read stops at the first byte outside
    /// guest memory, a write outside it writes nothing.
    func testTheDebuggersPhysicalAccessStopsAtTheEdges() throws {
        let machine = try Machine(memorySize: (3 << 30) + (64 << 20), vcpuCount: 1)
        XCTAssertEqual(machine.memory.regions.map(\.guestBase), [0, PCMemoryMap.highMemoryStart], "RAM on both sides of the hole")
        let target = MachineDebugTarget(machine: machine)
        for range in HostileGuestRange.all(in: machine.memory) where range.length <= 1 << 20 {
            let inside = machine.memory.region(containing: range.address, length: 1)
                .map { Int(min(UInt64(range.length), $0.guestEnd - range.address)) } ?? 0
            XCTAssertEqual(target.readPhysical(at: range.address, count: range.length).count, inside, "\(range)")
            XCTAssertFalse(target.writePhysical([UInt8](repeating: 0xAA, count: range.length), at: range.address), "\(range)")
        }
        Self.assertAllZero(machine.memory)
    }

    /// ELF segments at each hostile range: refused before anything is written.
    func testLoaderSegmentsAtHostileRangesAreRefused() throws {
        let scratch = try ScratchDirectory()
        let machine = try Machine(memorySize: 64 << 20, vcpuCount: 1)
        for (index, range) in HostileGuestRange.all(in: machine.memory).enumerated() {
            let segment = TestELF.Segment(at: range.address, data: [0x90, 0xF4], memorySize: UInt64(range.length))
            let path = try scratch.write("kernel\(index).elf",
                                         TestELF(is64Bit: true, entry: range.address, segments: [segment]).bytes)
            XCTAssertThrowsError(try KernelLoader.load(kernelAt: path, into: machine, commandLine: "", modules: []),
                                 "\(range)") { error in
                guard let error = error as? KernelLoadError else { return XCTFail("\(range): \(error)") }
                switch error {
                case .segmentOutsideRAM, .memoryTooSmall: break
                default: XCTFail("\(range): \(error)")
                }
            }
        }
        Self.assertAllZero(machine.memory)
    }

    static func assertAllZero(_ memory: GuestMemory, file: StaticString = #filePath, line: UInt = #line) {
        for region in memory.regions where region.kind == .ram {
            let words = region.host.assumingMemoryBound(to: UInt64.self)
            let dirty = (0..<Int(min(region.size, 64 << 20) / 8)).first { words[$0] != 0 }
            XCTAssertNil(dirty, "\(region.name) written at word \(dirty ?? 0)", file: file, line: line)
        }
    }
}
