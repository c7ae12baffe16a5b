/// Where vmm puts the things it writes into low guest memory before entry. Addresses sit in the
/// first 640 KiB, below the EBDA, where the Multiboot and PVH memory maps report usable RAM that no
/// loaded kernel image (linked at 1 MiB or above) overlaps.
public enum BootLayout {
    /// The boot GDT (see `BootGDT`).
    public static let gdt: UInt64 = 0x500
    /// Identity-mapping page tables for long-mode entry: PML4, PDPT and four page directories.
    public static let pageTables: UInt64 = 0x9000
    /// Multiboot info block or PVH hvm_start_info, with the memory map and module list after it.
    public static let bootInfo: UInt64 = 0x1_0000
    /// Kernel command line (up to 4 KiB).
    public static let commandLine: UInt64 = 0x2_0000
    public static let commandLineLimit = 4096
    /// The initial stack for entry states that need one, growing down from here.
    public static let stackTop: UInt64 = 0x8_0000
    /// Top of conventional memory: the EBDA and BIOS area start here.
    public static let conventionalMemoryEnd: UInt64 = 0x9_fc00
    /// Guest-physical start of the PC's MMIO hole below 4 GiB (IOAPIC, LAPIC, ...).
    public static let mmioHoleStart: UInt64 = 0xc000_0000
    public static let highMemoryStart: UInt64 = 0x1_0000_0000
}
