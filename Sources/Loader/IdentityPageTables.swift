import VMMKit

/// Page tables mapping the first 4 GiB of guest-physical memory at the same virtual addresses with
/// 2 MiB pages (SDM vol. 3, 4.5): one PML4, one PDPT and four page directories, 24 KiB in all at
/// the boot layout's `pageTables`. Long-mode entry needs paging on; this is the smallest map that covers
/// RAM below the MMIO hole and the LAPIC/IOAPIC pages in it.
public enum IdentityPageTables {
    public static let size: UInt64 = 6 * 4096

    public static func write(into memory: GuestMemory, at base: UInt64 = BootLayout.standard.pageTables)
        throws(GuestMemoryError)
    {
        let pdpt = base + 0x1000
        let present: UInt64 = 1, writable: UInt64 = 2, largePage: UInt64 = 1 << 7
        try memory.zero(at: base, length: Int(size))
        try memory.write(pdpt | present | writable, at: base)
        for gigabyte in UInt64(0)..<4 {
            let directory = base + 0x2000 + gigabyte * 0x1000
            try memory.write(directory | present | writable, at: pdpt + gigabyte * 8)
            for entry in UInt64(0)..<512 {
                let physical = (gigabyte << 30) | (entry << 21)
                try memory.write(physical | present | writable | largePage, at: directory + entry * 8)
            }
        }
    }
}
