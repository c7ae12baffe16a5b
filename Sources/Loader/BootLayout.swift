import VMMKit

/// Where vmm puts the things it writes into low guest memory before entry, for one load. The
/// standard layout sits in the first 640 KiB, below the EBDA, where the Multiboot and PVH memory
/// maps report usable RAM; the loader moves an area only when a kernel segment or module lies
/// over it (see `BootLayout.choose`).
public struct BootLayout: Equatable, Sendable {
    /// The boot GDT (see `BootGDT`).
    public var gdt: UInt64
    /// Identity-mapping page tables for long-mode entry: PML4, PDPT and four page directories.
    public var pageTables: UInt64
    /// Multiboot info block or PVH hvm_start_info, with the memory map and module list after it
    /// (`bootInfoSize` bytes).
    public var bootInfo: UInt64
    /// Kernel command line (up to `commandLineLimit` bytes with its NUL).
    public var commandLine: UInt64
    /// The initial stack for entry states that need one, growing down from here.
    public var stackTop: UInt64

    public init(gdt: UInt64, pageTables: UInt64, bootInfo: UInt64, commandLine: UInt64, stackTop: UInt64) {
        self.gdt = gdt
        self.pageTables = pageTables
        self.bootInfo = bootInfo
        self.commandLine = commandLine
        self.stackTop = stackTop
    }

    /// The placement for every kernel that leaves low memory alone (kernels linked at 1 MiB).
    public static let standard = BootLayout(gdt: 0x500, pageTables: 0x9000, bootInfo: 0x1_0000,
                                            commandLine: 0x2_0000, stackTop: 0x8_0000)
    public static let bootInfoSize: UInt64 = 0x1_0000
    public static let commandLineLimit = 4096
    /// The first byte after the real-mode IVT and the BIOS data area (0x000-0x4ff), which vmm
    /// leaves to firmware conventions.
    public static let firstFreeLowAddress: UInt64 = 0x500
}
