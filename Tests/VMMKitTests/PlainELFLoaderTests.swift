import XCTest
@testable import VMMKit
@testable import KernelLoading

final class PlainELFLoaderTests: LoaderTestCase {
    func testELF32EntersProtectedModeWithoutBootInformation() throws {
        let elf = TestELF(entry: 0x20_0004, segments: [.init(at: 0x20_0000, data: Self.body())])
        let kernel = try load(try write(elf))

        XCTAssertEqual(kernel.format, .elf32)
        XCTAssertEqual(kernel.bootState.general.rip, 0x20_0004)
        XCTAssertEqual(kernel.bootState.general.rax, 0)
        XCTAssertEqual(kernel.bootState.general.rbx, 0)
        XCTAssertEqual(kernel.bootState.system.cs.selector, BootGDT.code32Selector)
        XCTAssertEqual(try machine.memory.readBytes(at: 0x20_0000, count: 64), Self.body())
        XCTAssertEqual(try u64(BootLayout.standard.gdt + 16), BootGDT.descriptors[2])
    }

    func testELF64EntersLongModeThroughTheIdentityMap() throws {
        let elf = TestELF(is64Bit: true, entry: 0x20_0008, segments: [.init(at: 0x20_0000, data: Self.body())])
        let kernel = try load(try write(elf))

        XCTAssertEqual(kernel.format, .elf64)
        XCTAssertEqual(kernel.bootState.general.rip, 0x20_0008)
        XCTAssertEqual(kernel.bootState.system.cs.selector, BootGDT.code64Selector)
        XCTAssertTrue(kernel.bootState.system.cs.long)
        XCTAssertEqual(kernel.bootState.system.cr3, BootLayout.standard.pageTables)
        XCTAssertNotEqual(kernel.bootState.system.efer & ControlBits.eferLMA, 0)
        XCTAssertEqual(try u64(BootLayout.standard.pageTables), (BootLayout.standard.pageTables + 0x1000) | 3, "PML4[0] -> PDPT")
        XCTAssertEqual(try u64(BootLayout.standard.gdt + 32), BootGDT.descriptors[4])
    }

    func testVirtualEntryIsTranslatedToThePhysicalLoadAddress() throws {
        let elf = TestELF(is64Bit: true, entry: 0xffff_ffff_8000_0010,
                          segments: [.init(at: 0xffff_ffff_8000_0000, data: Self.body(), physicalAddress: 0x40_0000)])
        let kernel = try load(try write(elf))
        XCTAssertEqual(kernel.entry, 0x40_0010)
        XCTAssertEqual(try machine.memory.readBytes(at: 0x40_0000, count: 64), Self.body())
    }

    func testZeroSizedSegmentsAreSkipped() throws {
        let elf = TestELF(entry: 0x20_0000, segments: [.init(at: 0xfff0_0000, data: []), .init(at: 0x20_0000, data: Self.body())])
        XCTAssertEqual(try load(try write(elf)).format, .elf32)
    }
}
