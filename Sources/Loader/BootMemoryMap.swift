import VMMKit

/// The physical memory map a kernel is told about, in the E820 convention both Multiboot's mmap
/// (0.6.96, 3.3: type 1 available, other values reserved) and PVH's memmap (xen start_info.h:
/// XEN_HVM_MEMMAP_TYPE_RAM = 1, _RESERVED = 2) follow.
///
/// RAM from 0 to `PCMemoryMap.conventionalMemoryEnd` is usable, the EBDA/VGA/BIOS window up to
/// 1 MiB is reserved, RAM above is usable; ROM regions are reserved. The MMIO hole below 4 GiB
/// is not listed, which tells the kernel it is not RAM.
enum BootMemoryMap {
    struct Entry: Equatable {
        let base: UInt64
        let length: UInt64
        let type: UInt32
    }

    static let usable: UInt32 = 1
    static let reserved: UInt32 = 2

    /// The legacy window between conventional memory and 1 MiB.
    static let legacyWindow = PCMemoryMap.conventionalMemoryEnd..<0x10_0000

    static func entries(for memory: GuestMemory) -> [Entry] {
        var entries: [Entry] = []
        func add(from start: UInt64, to end: UInt64, _ type: UInt32) {
            if start < end { entries.append(Entry(base: start, length: end - start, type: type)) }
        }
        for region in memory.regions {
            let (start, end) = (region.guestBase, region.guestEnd)
            guard region.kind == .ram else {
                add(from: start, to: end, reserved)
                continue
            }
            add(from: start, to: min(end, legacyWindow.lowerBound), usable)
            add(from: max(start, legacyWindow.lowerBound), to: min(end, legacyWindow.upperBound), reserved)
            add(from: max(start, legacyWindow.upperBound), to: end, usable)
        }
        return entries
    }

    /// KiB of usable RAM from 0 (Multiboot mem_lower, at most 640 KiB).
    static func lowerKiB(of memory: GuestMemory) -> UInt32 {
        guard let region = memory.region(containing: 0, length: 0), region.kind == .ram else { return 0 }
        return UInt32(min(region.guestEnd, legacyWindow.lowerBound) / 1024)
    }

    /// KiB of RAM from 1 MiB up to the first hole (Multiboot mem_upper).
    static func upperKiB(of memory: GuestMemory) -> UInt32 {
        guard let region = memory.region(containing: legacyWindow.upperBound, length: 0), region.kind == .ram else {
            return 0
        }
        return UInt32(truncatingIfNeeded: (region.guestEnd - legacyWindow.upperBound) / 1024)
    }
}
