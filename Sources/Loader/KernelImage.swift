import CLibELF
import VMMKit

/// The segments of a kernel and its entry point, checked against the machine before a single
/// byte is written, so a rejected kernel leaves guest memory untouched.
struct KernelImage {
    let path: String
    let segments: [LoadSegment]
    /// Guest-physical entry point.
    let entry: UInt64

    /// The first byte after the highest segment.
    var end: UInt64 { segments.map(\.end).max() ?? 0 }

    /// The PT_LOAD segments of `file`, at their physical addresses (p_paddr), and e_entry
    /// translated to a physical address through the segment containing it (as GRUB does for
    /// kernels linked at a virtual address other than their load address).
    static func fromProgramHeaders(of file: ELFFile) throws(KernelLoadError) -> KernelImage {
        let header = try file.header()
        var segments: [LoadSegment] = []
        var entry = header.e_entry
        for program in try file.programHeaders() where program.p_type == UInt32(PT_LOAD) {
            guard program.p_filesz <= program.p_memsz else {
                throw .fileSizeExceedsMemorySize(path: file.path, address: program.p_paddr,
                                                 fileSize: program.p_filesz, memorySize: program.p_memsz)
            }
            let fileSize = UInt64(file.bytes.count)
            guard program.p_offset <= fileSize, program.p_filesz <= fileSize - program.p_offset else {
                throw .segmentBeyondFile(path: file.path, offset: program.p_offset, size: program.p_filesz,
                                         fileSize: fileSize)
            }
            guard program.p_memsz > 0 else { continue }
            if header.e_entry >= program.p_vaddr, header.e_entry - program.p_vaddr < program.p_memsz {
                entry = header.e_entry - program.p_vaddr &+ program.p_paddr
            }
            segments.append(LoadSegment(address: program.p_paddr, fileOffset: program.p_offset,
                                        fileSize: program.p_filesz, memorySize: program.p_memsz))
        }
        guard !segments.isEmpty else { throw .noLoadableSegments(path: file.path) }
        return KernelImage(path: file.path, segments: segments, entry: entry)
    }

    /// Every segment lies in guest RAM, clear of the others and of vmm's boot areas, and the entry
    /// point is inside one of them.
    func validate(in memory: GuestMemory) throws(KernelLoadError) {
        for segment in segments {
            try Self.checkPlacement(path: path, address: segment.address, size: segment.memorySize, in: memory)
        }
        let sorted = segments.sorted { $0.address < $1.address }
        for (lower, upper) in zip(sorted, sorted.dropFirst()) where lower.end > upper.address {
            throw .segmentsOverlap(path: path, first: lower.address, second: upper.address)
        }
        guard segments.contains(where: { entry >= $0.address && entry < $0.end }) else {
            throw .entryOutsideImage(path: path, entry: entry)
        }
    }

    /// `size` bytes at `address` are all RAM. Shared with modules.
    static func checkPlacement(path: String, address: UInt64, size: UInt64, in memory: GuestMemory)
        throws(KernelLoadError)
    {
        let (end, wraps) = address.addingReportingOverflow(size)
        guard !wraps, size <= UInt64(Int.max),
              let region = memory.region(containing: address, length: Int(size)), region.kind == .ram
        else {
            let lowRAMEnd = memory.regions.first { $0.guestBase == 0 && $0.kind == .ram }?.guestEnd ?? 0
            if !wraps, end <= PCMemoryMap.mmioHoleStart, end > lowRAMEnd, lowRAMEnd < PCMemoryMap.mmioHoleStart {
                throw .memoryTooSmall(path: path, needed: end, available: lowRAMEnd)
            }
            throw .segmentOutsideRAM(path: path, address: address, size: size)
        }
    }

    /// Copies the file bytes and zeroes the rest of each segment. Call after `validate`.
    func write(from file: ELFFile, into memory: GuestMemory) throws(GuestMemoryError) {
        for segment in segments {
            let start = Int(segment.fileOffset)
            let data = UnsafeRawBufferPointer(rebasing: file.bytes[start..<start + Int(segment.fileSize)])
            try memory.write(data, at: segment.address)
            try memory.zero(at: segment.address + segment.fileSize, length: Int(segment.memorySize - segment.fileSize))
        }
    }
}
