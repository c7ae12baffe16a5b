import CLibELF
#if canImport(Glibc)
import Glibc
import VMMKit
#endif

/// An ELF note: its owner name, type and descriptor bytes (System V gABI, "Note Section").
struct ELFNote: Equatable {
    let name: String
    let type: UInt32
    let descriptor: [UInt8]
}

/// One open kernel file, parsed through libelf. The file is mapped read-only (ELF_C_READ_MMAP);
/// `bytes` is the raw image, for Multiboot header scans and segment contents.
///
/// Every accessor checks libelf's result, so a truncated or corrupt file becomes a
/// `KernelLoadError`, never a trap.
final class ELFFile {
    let path: String
    private let descriptor: Int32
    private let elf: OpaquePointer
    /// The whole file as libelf mapped it; valid while this object lives.
    let bytes: UnsafeRawBufferPointer

    init(path: String) throws(KernelLoadError) {
        self.path = path
        guard elf_version(UInt32(EV_CURRENT)) != UInt32(EV_NONE) else {
            throw .corrupt(path: path, detail: "libelf: \(Self.lastError)")
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path, reason: String(cString: strerror(errno))) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, (status.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw .unreadable(path: path, reason: "not a regular file")
        }
        guard let elf = elf_begin(descriptor, ELF_C_READ_MMAP, nil) else {
            let detail = Self.lastError
            close(descriptor)
            throw .corrupt(path: path, detail: detail)
        }
        self.descriptor = descriptor
        self.elf = elf
        var size = 0
        let raw = elf_rawfile(elf, &size)
        bytes = UnsafeRawBufferPointer(start: raw.map(UnsafeRawPointer.init), count: raw == nil ? 0 : size)
    }

    deinit {
        elf_end(elf)
        close(descriptor)
    }

    private static var lastError: String {
        guard let message = elf_errmsg(-1) else { return "unknown error" }
        return String(cString: message)
    }

    /// libelf recognised an ELF identification (magic, class, encoding).
    var isELF: Bool { elf_kind(elf) == ELF_K_ELF }

    /// The file starts with the ELF magic, whether or not the rest is intact.
    var hasELFMagic: Bool { bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]) }

    var is64Bit: Bool { gelf_getclass(elf) == ELFCLASS64 }

    func header() throws(KernelLoadError) -> GElf_Ehdr {
        var header = GElf_Ehdr()
        guard gelf_getehdr(elf, &header) != nil else { throw .corrupt(path: path, detail: Self.lastError) }
        return header
    }

    func programHeaders() throws(KernelLoadError) -> [GElf_Phdr] {
        var count = 0
        guard elf_getphdrnum(elf, &count) == 0 else { throw .corrupt(path: path, detail: Self.lastError) }
        var headers: [GElf_Phdr] = []
        for index in 0..<count {
            var header = GElf_Phdr()
            guard gelf_getphdr(elf, Int32(truncatingIfNeeded: index), &header) != nil else {
                throw .corrupt(path: path, detail: "program header \(index): \(Self.lastError)")
            }
            headers.append(header)
        }
        return headers
    }

    /// The notes of every PT_NOTE segment; when there is none, of every SHT_NOTE section.
    func notes() throws(KernelLoadError) -> [ELFNote] {
        var notes: [ELFNote] = []
        let noteSegments = try programHeaders().filter { $0.p_type == UInt32(PT_NOTE) }
        for segment in noteSegments where segment.p_filesz > 0 {
            guard segment.p_offset <= UInt64(bytes.count), segment.p_filesz <= UInt64(bytes.count) - segment.p_offset,
                  let data = elf_getdata_rawchunk(elf, Int64(segment.p_offset), Int(segment.p_filesz), ELF_T_NHDR)
            else {
                throw .corrupt(path: path, detail: "PT_NOTE at file offset \(segment.p_offset) is outside the file")
            }
            notes += try decodeNotes(data)
        }
        guard noteSegments.isEmpty else { return notes }
        var section: OpaquePointer? = nil
        while let next = elf_nextscn(elf, section) {
            section = next
            var header = GElf_Shdr()
            guard gelf_getshdr(next, &header) != nil else { throw .corrupt(path: path, detail: Self.lastError) }
            guard header.sh_type == UInt32(SHT_NOTE) else { continue }
            guard let data = elf_getdata(next, nil) else { throw .corrupt(path: path, detail: Self.lastError) }
            notes += try decodeNotes(data)
        }
        return notes
    }

    /// Walks the notes in one translated (ELF_T_NHDR) data block with gelf_getnote.
    private func decodeNotes(_ data: UnsafeMutablePointer<Elf_Data>) throws(KernelLoadError) -> [ELFNote] {
        guard let base = data.pointee.d_buf else { return [] }
        let block = UnsafeRawBufferPointer(start: base, count: data.pointee.d_size)
        var notes: [ELFNote] = []
        var offset = 0
        while offset < block.count {
            var header = GElf_Nhdr()
            var nameOffset = 0
            var descriptorOffset = 0
            let next = gelf_getnote(data, offset, &header, &nameOffset, &descriptorOffset)
            guard next > offset else { break }
            guard nameOffset <= block.count, Int(header.n_namesz) <= block.count - nameOffset,
                  descriptorOffset <= block.count, Int(header.n_descsz) <= block.count - descriptorOffset
            else {
                throw .corrupt(path: path, detail: "a note runs past the end of its segment")
            }
            let nameBytes = block[nameOffset..<nameOffset + Int(header.n_namesz)].prefix { $0 != 0 }
            notes.append(ELFNote(
                name: String(decoding: nameBytes, as: UTF8.self), type: header.n_type,
                descriptor: Array(block[descriptorOffset..<descriptorOffset + Int(header.n_descsz)])))
            offset = next
        }
        return notes
    }
}
