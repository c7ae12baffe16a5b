import VMMKit

/// struct boot_params, the "zero page" (arch/x86/include/uapi/asm/bootparam.h;
/// Documentation/arch/x86/zero-page.rst): the kernel's setup header as the loader completed it,
/// the E820 memory map, and where the command line and initrd are. %rsi (%esi) points at it at entry.
enum LinuxBootParams {
    static let size = 4096
    static let extendedRamdiskImage = 0x0c0
    static let extendedRamdiskSize = 0x0c4
    static let extendedCommandLinePointer = 0x0c8
    static let e820Entries = 0x1e8
    static let e820Table = 0x2d0
    static let e820EntrySize = 20
    static let e820MaximumEntries = 128

    /// Builds it in `buffer` (its first allocation, so page-aligned) and returns its address.
    static func build(in buffer: inout BootInfoBuffer, header: LinuxSetupHeader, file: UnsafeRawBufferPointer,
                      memory: GuestMemory, commandLine: UInt64, initrd: BootModule?) throws(KernelLoadError) -> UInt64 {
        typealias Offset = LinuxSetupHeader.Offset
        let page = try buffer.allocate(size, alignment: size)
        // The header as the kernel wrote it (boot.rst: copy it, then fill in the loader's fields).
        for offset in Offset.setupSectors..<header.headerEnd {
            buffer.store(file[offset], at: page + UInt64(offset))
        }
        buffer.store(LinuxSetupHeader.undefinedLoader, at: page + UInt64(Offset.typeOfLoader))
        // The 32-bit entry jumps to code32_start; it is the load address (boot.rst, "code32_start").
        buffer.store(UInt32(truncatingIfNeeded: header.loadAddress), at: page + UInt64(Offset.code32Start))
        store(commandLine, low: Offset.commandLinePointer, high: extendedCommandLinePointer, at: page, in: &buffer)
        store(initrd?.address ?? 0, low: Offset.ramdiskImage, high: extendedRamdiskImage, at: page, in: &buffer)
        store(UInt64(initrd?.contents.count ?? 0), low: Offset.ramdiskSize, high: extendedRamdiskSize, at: page,
              in: &buffer)
        let map = BootMemoryMap.entries(for: memory).prefix(e820MaximumEntries)
        buffer.store(UInt8(map.count), at: page + UInt64(e820Entries))
        for (index, entry) in map.enumerated() {
            let address = page + UInt64(e820Table + index * e820EntrySize)
            buffer.store(entry.base, at: address)
            buffer.store(entry.length, at: address + 8)
            buffer.store(entry.type, at: address + 16)
        }
        return page
    }

    /// A 64-bit value split into a header field (low 32 bits) and its ext_ field (high 32 bits).
    private static func store(_ value: UInt64, low: Int, high: Int, at page: UInt64, in buffer: inout BootInfoBuffer) {
        buffer.store(UInt32(truncatingIfNeeded: value), at: page + UInt64(low))
        buffer.store(UInt32(truncatingIfNeeded: value >> 32), at: page + UInt64(high))
    }
}
