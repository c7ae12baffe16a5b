import VMMKit

/// The Multiboot information structure (Multiboot Specification 0.6.96, 3.3) with the memory map,
/// module list and strings after it, built in a `BootInfoBuffer` at the layout's `bootInfo`.
enum MultibootInfo {
    /// Bytes up to and including boot_loader_name (offset 64); the VBE and framebuffer fields after
    /// it stay absent (flags bits 11 and 12 clear).
    static let size = 88
    static let bootloaderName = "vmm"

    enum Flag {
        static let memory: UInt32 = 1 << 0
        static let commandLine: UInt32 = 1 << 2
        static let modules: UInt32 = 1 << 3
        static let memoryMap: UInt32 = 1 << 6
        static let bootloaderName: UInt32 = 1 << 9
    }

    enum Offset {
        static let flags: UInt64 = 0, memLower: UInt64 = 4, memUpper: UInt64 = 8, commandLine: UInt64 = 16
        static let modulesCount: UInt64 = 20, modulesAddress: UInt64 = 24
        static let memoryMapLength: UInt64 = 44, memoryMapAddress: UInt64 = 48, bootloaderName: UInt64 = 64
    }

    /// Returns the address of the information structure, for EBX.
    static func build(in buffer: inout BootInfoBuffer, memory: GuestMemory, commandLine: UInt64,
                      modules: [BootModule]) throws(KernelLoadError) -> UInt64 {
        let info = try buffer.allocate(size)
        buffer.store(Flag.memory | Flag.commandLine | Flag.modules | Flag.memoryMap | Flag.bootloaderName,
                     at: info + Offset.flags)
        buffer.store(BootMemoryMap.lowerKiB(of: memory), at: info + Offset.memLower)
        buffer.store(BootMemoryMap.upperKiB(of: memory), at: info + Offset.memUpper)
        buffer.store(UInt32(commandLine), at: info + Offset.commandLine)

        // Each mmap entry is size (u32, counting the 20 bytes after it), base_addr, length, type.
        let map = BootMemoryMap.entries(for: memory)
        let mapAddress = try buffer.allocate(map.count * 24)
        for (index, entry) in map.enumerated() {
            let address = mapAddress + UInt64(index * 24)
            buffer.store(UInt32(20), at: address)
            buffer.store(entry.base, at: address + 4)
            buffer.store(entry.length, at: address + 12)
            buffer.store(entry.type, at: address + 20)
        }
        buffer.store(UInt32(map.count * 24), at: info + Offset.memoryMapLength)
        buffer.store(UInt32(mapAddress), at: info + Offset.memoryMapAddress)

        // Each module entry is mod_start, mod_end (exclusive), string, reserved.
        let list = try buffer.allocate(modules.count * 16)
        for (index, module) in modules.enumerated() {
            let entry = list + UInt64(index * 16)
            buffer.store(UInt32(truncatingIfNeeded: module.address), at: entry)
            buffer.store(UInt32(truncatingIfNeeded: module.end), at: entry + 4)
            buffer.store(UInt32(try buffer.append(string: module.path)), at: entry + 8)
        }
        buffer.store(UInt32(modules.count), at: info + Offset.modulesCount)
        buffer.store(UInt32(list), at: info + Offset.modulesAddress)
        buffer.store(UInt32(try buffer.append(string: bootloaderName)), at: info + Offset.bootloaderName)
        return info
    }
}
