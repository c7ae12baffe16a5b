import XCTest
@testable import VMMKit
@testable import KernelLoading

/// Every malformed kernel or module is a `KernelLoadError` naming the file, and leaves guest
/// memory untouched.
final class LoaderErrorTests: LoaderTestCase {
    static let base: UInt64 = 0x10_0000

    func kernel(_ segments: [TestELF.Segment], entry: UInt64 = base, is64Bit: Bool = false) -> TestELF {
        TestELF(is64Bit: is64Bit, entry: entry, segments: segments)
    }

    var goodKernel: TestELF { kernel([.init(at: Self.base, data: Self.body())]) }

    func testMissingFile() {
        guard case .unreadable = expectFailure("\(scratch.path)/no-such-kernel") else { return XCTFail("wrong error") }
    }

    func testDirectoryInsteadOfAFile() {
        guard case .unreadable = expectFailure(scratch.path) else { return XCTFail("wrong error") }
    }

    func testNotAnELFFile() throws {
        let path = try scratch.write("kernel.txt", Array("#!/bin/sh\necho this is not a kernel\n".utf8))
        guard case .notELF = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testEmptyFile() throws {
        guard case .notELF = expectFailure(try scratch.write("empty", [])) else { return XCTFail("wrong error") }
    }

    func testTruncatedHeader() throws {
        let path = try scratch.write("kernel.elf", Array(goodKernel.bytes.prefix(30)))
        let error = expectFailure(path)
        guard case .corrupt = error else { return XCTFail("wrong error \(String(describing: error))") }
    }

    func testTruncatedIdentification() throws {
        let path = try scratch.write("kernel.elf", Array(goodKernel.bytes.prefix(8)))
        guard case .corrupt = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testProgramHeadersBeyondTheFile() throws {
        var elf = goodKernel
        elf.programHeaderOffset = 0x10_0000
        guard case .corrupt = expectFailure(try write(elf)) else { return XCTFail("wrong error") }
    }

    func testARMKernel() throws {
        var elf = goodKernel
        elf.machine = TestELF.machineARM
        let error = expectFailure(try write(elf))
        guard case .unsupportedArchitecture = error else { return XCTFail("wrong error") }
        XCTAssertTrue(error?.description.contains("ARM") ?? false)
    }

    func testELF64ForI386() throws {
        var elf = kernel([.init(at: Self.base, data: Self.body())], is64Bit: true)
        elf.machine = TestELF.machine386
        guard case .unsupportedArchitecture = expectFailure(try write(elf)) else { return XCTFail("wrong error") }
    }

    func testRelocatableObject() throws {
        var elf = goodKernel
        elf.type = TestELF.typeRelocatable
        guard case .notExecutable = expectFailure(try write(elf)) else { return XCTFail("wrong error") }
    }

    func testNoLoadableSegments() throws {
        var elf = goodKernel
        elf.segments[0].type = 4 // PT_NOTE
        guard case .noLoadableSegments = expectFailure(try write(elf)) else { return XCTFail("wrong error") }
    }

    func testSegmentInTheMMIOHole() throws {
        let path = try write(kernel([.init(at: 0xd000_0000, data: Self.body())], entry: 0xd000_0000))
        guard case .segmentOutsideRAM = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testSegmentWrappingTheAddressSpace() throws {
        let segment = TestELF.Segment(at: 0xffff_ffff_ffff_f000, data: Self.body(), memorySize: 0x2000)
        let path = try write(kernel([segment], entry: 0xffff_ffff_ffff_f000, is64Bit: true))
        guard case .segmentOutsideRAM = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testMemoryTooSmallForTheImage() throws {
        let segment = TestELF.Segment(at: Self.base, data: Self.body(), memorySize: 100 << 20)
        guard case .memoryTooSmall = expectFailure(try write(kernel([segment]))) else { return XCTFail("wrong error") }
    }

    func testOverlappingSegments() throws {
        let path = try write(kernel([.init(at: Self.base, data: Self.body(), memorySize: 0x2000),
                                     .init(at: Self.base + 0x1000, data: Self.body())]))
        guard case .segmentsOverlap = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testLowKernelMovesTheBootInformationAndGDT() throws {
        let path = try write(kernel([.init(at: 0x400, data: TestELF.multibootHeader() + Self.body(), memorySize: 0x1_2000)],
                                    entry: 0x400 + 12))
        let loaded = try load(path)
        let image = 0x400..<UInt64(0x1_2400)
        XCTAssertFalse(BootArea.gdt.range(in: loaded.layout).overlaps(image))
        XCTAssertFalse(BootArea.bootInfo.range(in: loaded.layout).overlaps(image))
        XCTAssertEqual(loaded.bootState.general.rbx, loaded.layout.bootInfo, "EBX points at the moved Multiboot info")
        XCTAssertEqual(loaded.bootState.system.gdt.base, loaded.layout.gdt)
        XCTAssertEqual(try u64(loaded.layout.gdt + 16), BootGDT.descriptors[2], "boot GDT written where GDTR points")
    }

    func testKernelCoveringConventionalMemoryIsRefused() throws {
        let path = try write(kernel([.init(at: 0x1000, data: Self.body(), memorySize: 0x9_e000)], entry: 0x1000))
        guard case let .noRoomForBootArea(_, area) = expectFailure(path) else { return XCTFail("wrong error") }
        XCTAssertEqual(area, "identity page tables")
    }

    func testFileSizeLargerThanMemorySize() throws {
        var elf = goodKernel
        elf.segments[0].memorySize = 16
        guard case .fileSizeExceedsMemorySize = expectFailure(try write(elf)) else { return XCTFail("wrong error") }
    }

    func testSegmentDataBeyondTheFile() throws {
        var elf = goodKernel
        elf.segments[0].fileOffset = 0x1000_0000
        guard case .segmentBeyondFile = expectFailure(try write(elf)) else { return XCTFail("wrong error") }
    }

    func testSegmentFileSizeBeyondTheFile() throws {
        var elf = goodKernel
        elf.segments[0].fileSize = 0x10_0000
        elf.segments[0].memorySize = 0x10_0000
        guard case .segmentBeyondFile = expectFailure(try write(elf)) else { return XCTFail("wrong error") }
    }

    func testEntryOutsideTheImage() throws {
        let path = try write(kernel([.init(at: Self.base, data: Self.body())], entry: 0x80_0000))
        guard case .entryOutsideImage = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testCommandLineTooLong() throws {
        let path = try write(goodKernel)
        let commandLine = String(repeating: "x", count: BootLayout.commandLineLimit)
        guard case .commandLineTooLong = expectFailure(path, commandLine: commandLine) else { return XCTFail("wrong error") }
    }

    func testMissingModule() throws {
        let path = try write(multibootKernel())
        let module = "\(scratch.path)/no-such-initrd"
        guard case .moduleUnreadable = expectFailure(path, blaming: module, modules: [module]) else {
            return XCTFail("wrong error")
        }
    }

    func testDirectoryAsModule() throws {
        let path = try write(multibootKernel())
        guard case .moduleUnreadable = expectFailure(path, blaming: scratch.path, modules: [scratch.path]) else {
            return XCTFail("wrong error")
        }
    }

    func testModuleLargerThanGuestRAM() throws {
        let path = try write(multibootKernel())
        let module = try scratch.sparseFile("huge.img", size: 128 << 20)
        guard case .moduleTooBig = expectFailure(path, blaming: module, modules: [module]) else {
            return XCTFail("wrong error")
        }
    }

    func testModulesForAPlainELFKernel() throws {
        let module = try scratch.write("initrd", [1])
        guard case .modulesNeedBootProtocol = expectFailure(try write(goodKernel), modules: [module]) else {
            return XCTFail("wrong error")
        }
    }

    func testTooManyModulesForTheBootInformationArea() throws {
        let module = try scratch.write(String(repeating: "m", count: 200), [])
        let modules = [String](repeating: module, count: 400)
        guard case .bootInfoTooLarge = expectFailure(try write(multibootKernel()), modules: modules) else {
            return XCTFail("wrong error")
        }
    }

    func testGuestRAMSmallerThanTheBootAreas() throws {
        machine = try Machine(memorySize: 0x4_0000, vcpuCount: 1)
        let path = try write(kernel([.init(at: 0x3_0000, data: Self.body())], entry: 0x3_0000))
        do {
            _ = try load(path)
            XCTFail("loaded into 256 KiB of RAM")
        } catch let error as KernelLoadError {
            guard case .memoryTooSmall = error else { return XCTFail("wrong error \(error)") }
        }
    }

    private func multibootKernel() -> TestELF {
        kernel([.init(at: Self.base, data: TestELF.multibootHeader() + Self.body())], entry: Self.base + 12)
    }
}
