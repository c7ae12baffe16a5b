import XCTest
@testable import VMMKit
@testable import KernelLoading

final class MultibootLoaderTests: LoaderTestCase {
    static let kernelBase: UInt64 = 0x10_0000

    /// An ELF32 Multiboot kernel: header and body at 1 MiB, then 0x3000 bytes of bss.
    func multibootKernel(flags: UInt32 = 0x3) -> TestELF {
        let data = TestELF.multibootHeader(flags: flags) + Self.body()
        return TestELF(entry: Self.kernelBase + 12, segments: [.init(at: Self.kernelBase, data: data, memorySize: 0x3000)])
    }

    func testELF32KernelEntersProtectedModeWithMultibootRegisters() throws {
        try machine.memory.write([UInt8](repeating: 0xee, count: 16), at: Self.kernelBase + 0x2000)
        let kernel = try load(try write(multibootKernel()), commandLine: "console=ttyS0 n=5")

        XCTAssertEqual(kernel.format, .multiboot)
        XCTAssertEqual(kernel.entry, Self.kernelBase + 12)
        XCTAssertEqual(kernel.bootState.general.rip, Self.kernelBase + 12)
        XCTAssertEqual(kernel.bootState.general.rax, 0x2BAD_B002)
        XCTAssertEqual(kernel.bootState.general.rbx, BootLayout.standard.bootInfo)
        XCTAssertEqual(kernel.bootState.system.cs.selector, BootGDT.code32Selector)
        XCTAssertEqual(kernel.bootState.system.cr0 & ControlBits.cr0PG, 0)
        XCTAssertEqual(try machine.memory.readBytes(at: Self.kernelBase + 12, count: 64), Self.body())
        XCTAssertEqual(try machine.memory.readBytes(at: Self.kernelBase + 0x2000, count: 16), [UInt8](repeating: 0, count: 16),
                       "bss is zeroed")
        XCTAssertEqual(try u64(BootLayout.standard.gdt + 16), BootGDT.descriptors[2], "boot GDT written")
    }

    func testInformationStructureDescribesMemoryCommandLineAndLoader() throws {
        let kernelPath = try write(multibootKernel())
        _ = try load(kernelPath, commandLine: "console=ttyS0 n=5")
        let info = BootLayout.standard.bootInfo
        let flags = try u32(info)
        XCTAssertEqual(flags, 1 << 0 | 1 << 2 | 1 << 3 | 1 << 6 | 1 << 9)
        XCTAssertEqual(try u32(info + 4), 639, "mem_lower")
        XCTAssertEqual(try u32(info + 8), UInt32((Self.memorySize - 0x10_0000) / 1024), "mem_upper")
        XCTAssertEqual(UInt64(try u32(info + 16)), BootLayout.standard.commandLine)
        XCTAssertEqual(try string(at: BootLayout.standard.commandLine), "\(kernelPath) console=ttyS0 n=5",
                       "the kernel's path first, as GRUB and QEMU pass it")
        XCTAssertEqual(try string(at: UInt64(try u32(info + 64))), "vmm")
    }

    func testMemoryMapReservesTheLegacyWindow() throws {
        _ = try load(try write(multibootKernel()))
        let length = try u32(BootLayout.standard.bootInfo + 44)
        let address = UInt64(try u32(BootLayout.standard.bootInfo + 48))
        var entries: [[UInt64]] = []
        var offset: UInt64 = 0
        while offset < UInt64(length) {
            let size = try u32(address + offset)
            XCTAssertEqual(size, 20)
            entries.append([try u64(address + offset + 4), try u64(address + offset + 12), UInt64(try u32(address + offset + 20))])
            offset += UInt64(size) + 4
        }
        XCTAssertEqual(entries, [[0, 0x9_fc00, 1], [0x9_fc00, 0x6_0400, 2], [0x10_0000, Self.memorySize - 0x10_0000, 1]])
    }

    func testModulesArePageAlignedAfterTheKernelWithTheirPaths() throws {
        let first = try scratch.write("initrd.img", Array("first module".utf8))
        let second = try scratch.write("extra.bin", [UInt8](repeating: 0x5a, count: 5000))
        _ = try load(try write(multibootKernel()), modules: [first, second])

        XCTAssertEqual(try u32(BootLayout.standard.bootInfo + 20), 2, "mods_count")
        let list = UInt64(try u32(BootLayout.standard.bootInfo + 24))
        let kernelEnd = Self.kernelBase + 0x3000
        XCTAssertEqual(UInt64(try u32(list)), kernelEnd)
        XCTAssertEqual(UInt64(try u32(list + 4)), kernelEnd + 12)
        XCTAssertEqual(try string(at: UInt64(try u32(list + 8))), first)
        XCTAssertEqual(try machine.memory.readBytes(at: kernelEnd, count: 12), Array("first module".utf8))
        XCTAssertEqual(UInt64(try u32(list + 16)), kernelEnd + 0x1000)
        XCTAssertEqual(UInt64(try u32(list + 20)), kernelEnd + 0x1000 + 5000)
        XCTAssertEqual(try string(at: UInt64(try u32(list + 24))), second)
        XCTAssertEqual(try machine.memory.readBytes(at: kernelEnd + 0x1000 + 4999, count: 1), [0x5a])
    }

    func testAddressFieldsLoadANonELFImage() throws {
        // header_addr 0x200000 is file offset 16, so the file loads from load_addr 0x1ffff0.
        let header = TestELF.multibootHeader(addresses: [0x20_0000, 0x1f_fff0, 0, 0x20_2000, 0x20_0040])
        let image = [UInt8](repeating: 0x90, count: 16) + header + Self.body()
        let kernel = try load(try scratch.write("kernel.bin", image))

        XCTAssertEqual(kernel.format, .multiboot)
        XCTAssertEqual(kernel.entry, 0x20_0040)
        XCTAssertEqual(try machine.memory.readBytes(at: 0x1f_fff0, count: image.count), image)
        XCTAssertEqual(try u32(0x20_1000), 0, "bss up to bss_end_addr is zeroed")
    }

    func testBadChecksumIsNotAMultibootHeader() throws {
        var data = TestELF.multibootHeader() + Self.body()
        data[8] ^= 1
        let elf = TestELF(entry: Self.kernelBase, segments: [.init(at: Self.kernelBase, data: data)])
        XCTAssertEqual(try load(try write(elf)).format, .elf32)
    }

    func testHeaderBeyondTheFirst8KiBIsIgnored() throws {
        let data = [UInt8](repeating: 0, count: 8192) + TestELF.multibootHeader()
        let elf = TestELF(entry: Self.kernelBase, segments: [.init(at: Self.kernelBase, data: data)])
        XCTAssertEqual(try load(try write(elf)).format, .elf32)
    }

    func testUnsupportedRequirementIsRejected() throws {
        let path = try write(multibootKernel(flags: 0x7)) // bit 2: video mode
        guard case .badMultibootHeader = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testCutOffAddressFieldsAreRejected() throws {
        let header = Array(TestELF.multibootHeader(addresses: [0x20_0000, 0x20_0000, 0, 0, 0x20_0000]).prefix(20))
        let path = try scratch.write("kernel.bin", header)
        guard case .badMultibootHeader = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testLoadAddressAboveHeaderAddressIsRejected() throws {
        let header = TestELF.multibootHeader(addresses: [0x20_0000, 0x20_1000, 0, 0, 0x20_1000])
        let path = try scratch.write("kernel.bin", header + Self.body())
        guard case .badMultibootHeader = expectFailure(path) else { return XCTFail("wrong error") }
    }

    func testLoadEndBeyondTheFileIsRejected() throws {
        let header = TestELF.multibootHeader(addresses: [0x20_0000, 0x20_0000, 0x30_0000, 0, 0x20_0000])
        let path = try scratch.write("kernel.bin", header + Self.body())
        guard case .segmentBeyondFile = expectFailure(path) else { return XCTFail("wrong error") }
    }
}
