import VMMKit

/// PVH boot: the entry note and struct hvm_start_info (xen include/public/arch-x86/hvm/start_info.h,
/// version 1), with its module list and memory map, built in a `BootInfoBuffer`.
enum PVHStartInfo {
    /// XEN_ELFNOTE_PHYS32_ENTRY (xen include/public/elfnote.h), in a note owned by "Xen".
    static let entryNoteType: UInt32 = 18
    static let entryNoteName = "Xen"
    static let magic: UInt32 = 0x336e_c578
    static let version: UInt32 = 1
    /// magic .. memmap_entries and the reserved word: 56 bytes.
    static let size = 56
    static let moduleEntrySize = 32
    static let memoryMapEntrySize = 24

    /// The 32-bit physical entry point from a PVH note among `notes`, or nil when there is none.
    /// The descriptor is a 4- or 8-byte little-endian address (Linux emits a pointer-sized one).
    static func entryPoint(in notes: [ELFNote], path: String) throws(KernelLoadError) -> UInt64? {
        guard let note = notes.first(where: { $0.name == entryNoteName && $0.type == entryNoteType }) else {
            return nil
        }
        guard note.descriptor.count == 4 || note.descriptor.count == 8 else {
            throw .badPVHNote(path: path, detail: "descriptor is \(note.descriptor.count) bytes, expected 4 or 8")
        }
        let entry = note.descriptor.reversed().reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard entry <= UInt64(UInt32.max) else { throw .entryAbove4GiB(path: path, entry: entry) }
        return entry
    }

    /// Returns the address of hvm_start_info, for EBX.
    static func build(in buffer: inout BootInfoBuffer, memory: GuestMemory, commandLine: UInt64,
                      modules: [BootModule]) throws(KernelLoadError) -> UInt64 {
        let info = try buffer.allocate(size)
        buffer.store(magic, at: info)
        buffer.store(version, at: info + 4)
        buffer.store(UInt32(modules.count), at: info + 12)
        buffer.store(commandLine, at: info + 24)

        // hvm_modlist_entry: paddr, size, cmdline_paddr, reserved (all u64).
        let list = try buffer.allocate(modules.count * moduleEntrySize)
        for (index, module) in modules.enumerated() {
            let entry = list + UInt64(index * moduleEntrySize)
            buffer.store(module.address, at: entry)
            buffer.store(UInt64(module.contents.count), at: entry + 8)
            buffer.store(try buffer.append(string: module.path), at: entry + 16)
        }
        buffer.store(modules.isEmpty ? 0 : list, at: info + 16)

        // hvm_memmap_table_entry: addr, size (u64), type, reserved (u32).
        let map = BootMemoryMap.entries(for: memory)
        let mapAddress = try buffer.allocate(map.count * memoryMapEntrySize)
        for (index, entry) in map.enumerated() {
            let address = mapAddress + UInt64(index * memoryMapEntrySize)
            buffer.store(entry.base, at: address)
            buffer.store(entry.length, at: address + 8)
            buffer.store(entry.type, at: address + 16)
        }
        buffer.store(mapAddress, at: info + 40)
        buffer.store(UInt32(map.count), at: info + 48)
        return info
    }
}
