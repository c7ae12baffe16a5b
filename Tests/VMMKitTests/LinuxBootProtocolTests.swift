import FuzzTargets
import XCTest
@testable import KernelLoading
@testable import VMMKit

/// bzImage loading by the Linux boot protocol (Documentation/arch/x86/boot.rst) on synthetic
/// kernels: where everything goes, what boot_params says, the entry state of the 64-bit and 32-bit
/// entries, and one clear error for each kernel vmm cannot boot. Debian's own vmlinuz boots in
/// LinuxGuestTests.
final class LinuxBootProtocolTests: LoaderTestCase {
    private typealias BzImage = SyntheticBzImage

    private func read<T: FixedWidthInteger>(_ address: UInt64, as _: T.Type = T.self) throws -> T {
        try machine.memory.read(at: address)
    }

    func testThe64BitEntryGetsBootParamsTheInitrdAndAnIdentityMap() throws {
        let image = BzImage()
        let kernel = try scratch.write("vmlinuz", image.bytes)
        let initrdBytes = Self.body(10_000, seed: 7)
        let initrd = try scratch.write("initrd", initrdBytes)
        let loaded = try load(kernel, commandLine: "console=ttyS0 quiet", modules: [initrd])

        XCTAssertEqual(loaded.format, .linux)
        XCTAssertEqual(loaded.entry, 0x100_0200, "startup_64 is 0x200 past the preferred load address")
        XCTAssertEqual(try machine.memory.readBytes(at: 0x100_0000, count: image.payload.count), image.payload)
        let state = loaded.bootState
        XCTAssertEqual(state.general.rip, 0x100_0200)
        XCTAssertEqual(state.system.cs.selector, BootGDT.code64Selector)
        XCTAssertEqual(state.system.ds.selector, BootGDT.dataSelector, "__BOOT_DS")
        XCTAssertNotEqual(state.system.cr0 & ControlBits.cr0PG, 0)
        XCTAssertNotEqual(state.system.efer & ControlBits.eferLMA, 0)
        XCTAssertEqual(state.system.cr3, loaded.layout.pageTables)

        let bootParams = state.general.rsi
        XCTAssertEqual(bootParams, loaded.layout.bootInfo)
        XCTAssertEqual(try read(bootParams + 0x202, as: UInt32.self), 0x5372_6448, "the setup header is copied")
        XCTAssertEqual(try read(bootParams + 0x210, as: UInt8.self), 0xff, "type_of_loader: undefined")
        XCTAssertEqual(try read(bootParams + 0x214, as: UInt32.self), 0x100_0000, "code32_start is the load address")
        let commandLine = UInt64(try read(bootParams + 0x228, as: UInt32.self))
        XCTAssertEqual(commandLine, loaded.layout.commandLine)
        XCTAssertEqual(try machine.memory.readBytes(at: commandLine, count: 20), Array("console=ttyS0 quiet\0".utf8))
        let ramdisk = UInt64(try read(bootParams + 0x218, as: UInt32.self))
        XCTAssertEqual(try read(bootParams + 0x21c, as: UInt32.self), UInt32(initrdBytes.count))
        XCTAssertEqual(ramdisk & 0xfff, 0, "page-aligned")
        XCTAssertLessThanOrEqual(ramdisk + UInt64(initrdBytes.count), Self.memorySize)
        XCTAssertGreaterThan(ramdisk, Self.memorySize - 0x4000, "as high as RAM allows")
        XCTAssertEqual(try machine.memory.readBytes(at: ramdisk, count: initrdBytes.count), initrdBytes)
        let entries = Int(try read(bootParams + 0x1e8, as: UInt8.self))
        XCTAssertEqual(entries, 3, "usable low RAM, the legacy window, RAM from 1 MiB")
        let lastEntry = bootParams + 0x2d0 + UInt64(20 * (entries - 1))
        XCTAssertEqual(try read(lastEntry, as: UInt64.self), 0x10_0000)
        XCTAssertEqual(try read(lastEntry + 8, as: UInt64.self), Self.memorySize - 0x10_0000)
        XCTAssertEqual(try read(lastEntry + 16, as: UInt32.self), 1)
        // The identity map covers the kernel: PML4[0] -> PDPT[0] -> a 2 MiB page at 16 MiB.
        let pdpt = try read(loaded.layout.pageTables, as: UInt64.self) & ~0xfff
        let directory = try read(pdpt, as: UInt64.self) & ~0xfff
        XCTAssertEqual(try read(directory + 8 * 8, as: UInt64.self) & ~0xfff, 0x100_0000)
    }

    func testAKernelWithoutThe64BitEntryIsEnteredInFlatProtectedModeAtOneMiB() throws {
        var image = BzImage()
        image.xloadflags = 0
        image.relocatable = false
        let loaded = try load(try scratch.write("vmlinuz", image.bytes))
        let state = loaded.bootState
        XCTAssertEqual(loaded.entry, 0x10_0000)
        XCTAssertEqual(state.general.rip, 0x10_0000)
        XCTAssertEqual(state.system.cs.selector, BootGDT.code32Selector, "__BOOT_CS")
        XCTAssertEqual(state.system.cr0 & ControlBits.cr0PG, 0)
        XCTAssertEqual(state.general.rsi, loaded.layout.bootInfo, "%esi = boot_params")
        XCTAssertEqual(state.general.rbx, 0)
        XCTAssertEqual(try machine.memory.readBytes(at: 0x10_0000, count: image.payload.count), image.payload)
        XCTAssertEqual(try read(loaded.layout.bootInfo + 0x218, as: UInt32.self), 0, "no initrd")
    }

    func testAProtocolOlderThan206IsRefused() throws {
        var image = BzImage()
        image.version = 0x0205
        let error = expectFailure(try scratch.write("vmlinuz", image.bytes))
        XCTAssertTrue(error?.description.contains("boot protocol 2.05 is older than 2.06") ?? false, "\(String(describing: error))")
    }

    func testATruncatedSetupIsRefused() throws {
        var image = BzImage()
        image.sectors = 30
        let truncated = Array(image.bytes.prefix(4096))
        let error = expectFailure(try scratch.write("vmlinuz", truncated))
        XCTAssertTrue(error?.description.contains("truncated") ?? false, "\(String(describing: error))")
    }

    func testAZImageIsRefused() throws {
        var image = BzImage()
        image.loadFlags = 0
        let error = expectFailure(try scratch.write("vmlinuz", image.bytes))
        XCTAssertTrue(error?.description.contains("zImage") ?? false, "\(String(describing: error))")
    }

    func testAnInitrdTooBigForInitrdAddressMaxIsRefused() throws {
        var image = BzImage()
        // The kernel needs 16-18 MiB; initrd_addr_max leaves 1 MiB above it.
        image.initrdAddressMax = 0x130_0000 - 1
        let kernel = try scratch.write("vmlinuz", image.bytes)
        let initrd = try scratch.write("initrd", Self.body(0x20_0000))
        let error = expectFailure(kernel, blaming: initrd, modules: [initrd])
        XCTAssertTrue(error?.description.contains("initrd_addr_max") ?? false, "\(String(describing: error))")
        // With room it loads, just below initrd_addr_max.
        let small = try scratch.write("small", Self.body(0x8_0000))
        let loaded = try load(kernel, modules: [small])
        XCTAssertEqual(try read(loaded.layout.bootInfo + 0x218, as: UInt32.self), 0x130_0000 - 0x8_0000)
    }

    func testOneInitrdOnlyAndTheKernelsCommandLineLimit() throws {
        var image = BzImage()
        image.commandLineSize = 15
        let kernel = try scratch.write("vmlinuz", image.bytes)
        let initrd = try scratch.write("initrd", Self.body(100))
        expectFailure(kernel, modules: [initrd, initrd])
        let error = expectFailure(kernel, commandLine: "console=ttyS0 quiet")
        XCTAssertTrue(error?.description.contains("at most 15") ?? false, "\(String(describing: error))")
        XCTAssertEqual(try load(kernel, commandLine: "console=ttyS0").format, .linux)
    }

    /// Found by scripts/fuzz: a pref_address at the top of the address space made the entry point's
    /// computation overflow (a trap) before the placement check could refuse it.
    func testAPreferredAddressAtTheTopOfTheAddressSpaceIsRefused() throws {
        var image = BzImage()
        image.preferredAddress = 0xffff_ffff_ffff_ff00
        let error = expectFailure(try scratch.write("vmlinuz", image.bytes))
        XCTAssertTrue(error?.description.contains("pref_address") ?? false, "\(String(describing: error))")
        image.preferredAddress = 0xffff_ffff_fff0_0000
        expectFailure(try scratch.write("vmlinuz", image.bytes))
    }
}
