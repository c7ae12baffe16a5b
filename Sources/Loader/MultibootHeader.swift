import VMMKit

/// The Multiboot v1 header a kernel carries in its first 8 KiB (Multiboot Specification 0.6.96,
/// 3.1): magic, flags, checksum and, when flag bit 16 is set, the addresses to load a non-ELF
/// ("a.out kludge") image at.
struct MultibootHeader {
    static let magic: UInt32 = 0x1BAD_B002
    /// The value a Multiboot loader leaves in EAX (3.2).
    static let bootloaderMagic: UInt32 = 0x2BAD_B002
    /// The header must lie, 4-byte aligned, within this many bytes from the start of the file (3.1.1).
    static let searchLimit = 8192

    /// Bit 0: align modules on pages; bit 1: provide memory information. vmm always does both.
    static let supportedRequirements: UInt32 = 0b11
    /// Bit 16: the address fields are valid.
    static let addressFieldsFlag: UInt32 = 1 << 16

    /// Where the header starts in the file.
    let fileOffset: Int
    let flags: UInt32

    /// The first header with the magic and a matching checksum (magic + flags + checksum == 0).
    static func find(in bytes: UnsafeRawBufferPointer) -> MultibootHeader? {
        let limit = min(bytes.count, searchLimit)
        var offset = 0
        while offset + 12 <= limit {
            let magic = bytes.loadUnaligned(fromByteOffset: offset, as: UInt32.self).littleEndian
            let flags = bytes.loadUnaligned(fromByteOffset: offset + 4, as: UInt32.self).littleEndian
            let checksum = bytes.loadUnaligned(fromByteOffset: offset + 8, as: UInt32.self).littleEndian
            if magic == Self.magic, magic &+ flags &+ checksum == 0 {
                return MultibootHeader(fileOffset: offset, flags: flags)
            }
            offset += 4
        }
        return nil
    }

    var hasAddressFields: Bool { flags & Self.addressFieldsFlag != 0 }

    /// Rejects requirements (flag bits 0-15) vmm cannot meet, such as a video mode (bit 2): the
    /// spec has the loader fail rather than boot a kernel that relies on them.
    func checkRequirements(path: String) throws(KernelLoadError) {
        let unsupported = flags & 0xffff & ~Self.supportedRequirements
        guard unsupported == 0 else {
            throw .badMultibootHeader(path: path, detail: "requires features vmm lacks (flags 0x\(String(unsupported, radix: 16)))")
        }
    }

    /// The image the address fields describe (3.1.3): the file from the byte that lands at
    /// load_addr up to load_end_addr (0: end of file), zeroed up to bss_end_addr (0: no bss).
    func addressFieldImage(path: String, in bytes: UnsafeRawBufferPointer) throws(KernelLoadError) -> KernelImage {
        guard fileOffset + 32 <= bytes.count else {
            throw .badMultibootHeader(path: path, detail: "flag bit 16 is set but the address fields are cut off")
        }
        func field(_ index: Int) -> UInt64 {
            UInt64(bytes.loadUnaligned(fromByteOffset: fileOffset + 12 + index * 4, as: UInt32.self).littleEndian)
        }
        let (headerAddress, loadAddress, loadEndAddress, bssEndAddress, entry) =
            (field(0), field(1), field(2), field(3), field(4))
        guard loadAddress <= headerAddress, headerAddress - loadAddress <= UInt64(fileOffset) else {
            throw .badMultibootHeader(path: path, detail: "load_addr is above header_addr or before the file start")
        }
        let loadOffset = UInt64(fileOffset) - (headerAddress - loadAddress)
        let fileSize = UInt64(bytes.count)
        let loadSize: UInt64
        if loadEndAddress == 0 {
            loadSize = fileSize - loadOffset
        } else {
            guard loadEndAddress >= loadAddress else {
                throw .badMultibootHeader(path: path, detail: "load_end_addr is below load_addr")
            }
            loadSize = loadEndAddress - loadAddress
            guard loadSize <= fileSize - loadOffset else {
                throw .segmentBeyondFile(path: path, offset: loadOffset, size: loadSize, fileSize: fileSize)
            }
        }
        var memorySize = loadSize
        if bssEndAddress != 0 {
            guard bssEndAddress >= loadAddress + loadSize else {
                throw .badMultibootHeader(path: path, detail: "bss_end_addr is below the end of the loaded data")
            }
            memorySize = bssEndAddress - loadAddress
        }
        guard memorySize > 0 else { throw .noLoadableSegments(path: path) }
        let segment = LoadSegment(address: loadAddress, fileOffset: loadOffset, fileSize: loadSize, memorySize: memorySize)
        return KernelImage(path: path, segments: [segment], entry: entry)
    }
}
