import XCTest
@testable import VMMKit
@testable import KernelLoading

/// `BootLayout.choose`: the standard placement unless a kernel segment or module lies over an area,
/// then the lowest free aligned place in conventional memory, and an error when none is left.
final class BootLayoutTests: XCTestCase {
    private let window = BootLayout.firstFreeLowAddress..<PCMemoryMap.conventionalMemoryEnd

    private func choose(_ occupied: [Range<UInt64>]) throws -> BootLayout {
        try BootLayout.choose(avoiding: occupied, within: window, path: "kernel")
    }

    func testKernelAtOneMiBKeepsTheStandardLayout() throws {
        XCTAssertEqual(try choose([0x10_0000..<0x20_0000]), .standard)
    }

    func testEachCollidingAreaMovesClearOfTheKernelAndTheOthers() throws {
        for area in BootArea.allCases {
            let standard = area.range(in: .standard)
            let kernel = standard.lowerBound..<standard.lowerBound + 1
            let layout = try choose([kernel])
            XCTAssertNotEqual(area.range(in: layout), standard, "\(area.name) moved")
            for other in BootArea.allCases where other != area {
                XCTAssertEqual(other.range(in: layout), other.range(in: .standard), "\(other.name) stays for \(area.name)")
            }
            assertValid(layout, avoiding: [kernel])
        }
    }

    func testKernelLinkedAt32KiBGetsAllAreasOutsideIt() throws {
        let kernel: Range<UInt64> = 0x8000..<0x3_0000
        let layout = try choose([kernel])
        assertValid(layout, avoiding: [kernel])
        XCTAssertEqual(layout.gdt, BootLayout.standard.gdt, "the GDT below the kernel stays")
        XCTAssertEqual(layout.stackTop, BootLayout.standard.stackTop, "the stack above the kernel stays")
    }

    func testModulesAreAvoidedToo() throws {
        let kernel: Range<UInt64> = 0x8000..<0x1_0000, module: Range<UInt64> = 0x1_0000..<0x6_0000
        assertValid(try choose([kernel, module]), avoiding: [kernel, module])
    }

    func testNoRoomLeftIsAnError() {
        XCTAssertThrowsError(try choose([0x1000..<0x9_f000])) { error in
            guard case let .noRoomForBootArea(path, area) = error as? KernelLoadError else {
                return XCTFail("wrong error \(error)")
            }
            XCTAssertEqual(path, "kernel")
            XCTAssertEqual(area, "identity page tables")
        }
    }

    private func assertValid(_ layout: BootLayout, avoiding occupied: [Range<UInt64>],
                             file: StaticString = #filePath, line: UInt = #line) {
        let ranges = BootArea.allCases.map { ($0, $0.range(in: layout)) }
        for (area, range) in ranges {
            XCTAssertTrue(range.lowerBound >= window.lowerBound && range.upperBound <= window.upperBound,
                          "\(area.name) inside conventional memory", file: file, line: line)
            XCTAssertEqual(range.lowerBound % area.alignment, 0, "\(area.name) aligned", file: file, line: line)
            XCTAssertFalse(occupied.contains { $0.overlaps(range) }, "\(area.name) clear of the kernel", file: file, line: line)
            for (other, otherRange) in ranges where other != area {
                XCTAssertFalse(range.overlaps(otherRange), "\(area.name) and \(other.name) apart", file: file, line: line)
            }
        }
    }
}
