import XCTest
@testable import VMMKit
@testable import KernelLoading

final class PVHLoaderTests: LoaderTestCase {
    static let kernelBase: UInt64 = 0x100_0000

    /// An ELF64 linked high (as vmlinux is) with a XEN_ELFNOTE_PHYS32_ENTRY note.
    func pvhKernel(descriptor: [UInt8], is64Bit: Bool = true) -> TestELF {
        TestELF(is64Bit: is64Bit, entry: 0xffff_ffff_8100_0000,
                segments: [.init(at: 0xffff_ffff_8100_0000, data: Self.body(), memorySize: 0x2000,
                                 physicalAddress: Self.kernelBase)],
                notes: [.init(name: "GNU", type: 3, descriptor: [1, 2, 3, 4]),
                        .init(name: "Xen", type: 18, descriptor: descriptor)])
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.append(littleEndian: value)
        return bytes
    }

    func testPVHNoteEntersProtectedModeWithStartInfo() throws {
        let module = try scratch.write("initrd", [1, 2, 3])
        let kernel = try load(try write(pvhKernel(descriptor: Self.littleEndian(UInt64(Self.kernelBase + 0x10)))),
                              commandLine: "root=/dev/vda", modules: [module])

        XCTAssertEqual(kernel.format, .pvh)
        XCTAssertEqual(kernel.entry, Self.kernelBase + 0x10)
        XCTAssertEqual(kernel.bootState.general.rip, Self.kernelBase + 0x10)
        XCTAssertEqual(kernel.bootState.general.rbx, BootLayout.standard.bootInfo)
        XCTAssertEqual(kernel.bootState.system.cs.selector, BootGDT.code32Selector)
        XCTAssertEqual(kernel.bootState.system.efer, 0)
        XCTAssertEqual(try machine.memory.readBytes(at: Self.kernelBase, count: 64), Self.body())

        let info = BootLayout.standard.bootInfo
        XCTAssertEqual(try u32(info), 0x336e_c578)
        XCTAssertEqual(try u32(info + 4), 1, "version")
        XCTAssertEqual(try u32(info + 12), 1, "nr_modules")
        XCTAssertEqual(try u64(info + 24), BootLayout.standard.commandLine)
        XCTAssertEqual(try string(at: BootLayout.standard.commandLine), "root=/dev/vda")
        XCTAssertEqual(try u64(info + 32), 0, "rsdp_paddr")

        let moduleEntry = try u64(info + 16)
        XCTAssertEqual(try u64(moduleEntry), Self.kernelBase + 0x2000)
        XCTAssertEqual(try u64(moduleEntry + 8), 3)
        XCTAssertEqual(try string(at: try u64(moduleEntry + 16)), module)
        XCTAssertEqual(try machine.memory.readBytes(at: Self.kernelBase + 0x2000, count: 3), [1, 2, 3])

        let map = try u64(info + 40)
        XCTAssertEqual(try u32(info + 48), 3, "memmap_entries")
        let entries = try (0..<3).map { index -> [UInt64] in
            let entry = map + UInt64(index * 24)
            return [try u64(entry), try u64(entry + 8), UInt64(try u32(entry + 16))]
        }
        XCTAssertEqual(entries, [[0, 0x9_fc00, 1], [0x9_fc00, 0x6_0400, 2], [0x10_0000, Self.memorySize - 0x10_0000, 1]])
    }

    func testFourByteNoteInAnELF32Kernel() throws {
        let kernel = try load(try write(pvhKernel(descriptor: Self.littleEndian(UInt32(Self.kernelBase)), is64Bit: false)))
        XCTAssertEqual(kernel.format, .pvh)
        XCTAssertEqual(kernel.entry, Self.kernelBase)
    }

    func testNoteWithABadDescriptorSizeIsRejected() throws {
        let path = try write(pvhKernel(descriptor: [0, 0, 0x10]))
        guard case .badPVHNote = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testEntryAbove4GiBIsRejected() throws {
        let path = try write(pvhKernel(descriptor: Self.littleEndian(UInt64(1) << 32)))
        guard case .entryAbove4GiB = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testEntryOutsideTheImageIsRejected() throws {
        let path = try write(pvhKernel(descriptor: Self.littleEndian(UInt64(0x300_0000))))
        guard case .entryOutsideImage = expectFailure(path) else { return XCTFail("wrong error") }
    }
}
