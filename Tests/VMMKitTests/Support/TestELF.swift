import Foundation

/// Builds small ELF32/ELF64 executables with chosen program headers and notes, so every loader
/// path (and every malformed input) can be tested without a toolchain. Layout: ELF header,
/// program headers, then each segment's bytes, then the notes (System V gABI, chapter 4/5).
struct TestELF {
    struct Segment {
        var type: UInt32 = 1 // PT_LOAD
        var virtualAddress: UInt64
        var physicalAddress: UInt64
        var data: [UInt8]
        var memorySize: UInt64
        /// Overrides for malformed headers; nil means "where the data really is".
        var fileOffset: UInt64? = nil
        var fileSize: UInt64? = nil

        init(at address: UInt64, data: [UInt8], memorySize: UInt64? = nil, physicalAddress: UInt64? = nil) {
            virtualAddress = address
            self.physicalAddress = physicalAddress ?? address
            self.data = data
            self.memorySize = memorySize ?? UInt64(data.count)
        }
    }

    struct Note {
        var name: String
        var type: UInt32
        var descriptor: [UInt8]
    }

    static let machine386: UInt16 = 3, machineX86_64: UInt16 = 62, machineARM: UInt16 = 40
    static let typeExecutable: UInt16 = 2, typeRelocatable: UInt16 = 1

    var is64Bit = false
    var machine: UInt16? = nil
    var type: UInt16 = TestELF.typeExecutable
    var entry: UInt64
    var segments: [Segment]
    /// Emitted in one PT_NOTE segment after the data.
    var notes: [Note] = []
    /// Overrides e_phoff for malformed files.
    var programHeaderOffset: UInt64? = nil

    var bytes: [UInt8] {
        let headerSize = is64Bit ? 64 : 52
        let programHeaderSize = is64Bit ? 56 : 32
        let programHeaderCount = segments.count + (notes.isEmpty ? 0 : 1)
        var dataOffset = headerSize + programHeaderCount * programHeaderSize
        var segmentOffsets: [Int] = []
        for segment in segments {
            dataOffset = (dataOffset + 15) & ~15
            segmentOffsets.append(dataOffset)
            dataOffset += segment.data.count
        }
        let notesOffset = (dataOffset + 3) & ~3
        let noteBytes = Self.encode(notes)

        var file: [UInt8] = [0x7f, 0x45, 0x4c, 0x46, is64Bit ? 2 : 1, 1, 1] + [UInt8](repeating: 0, count: 9)
        file.append(littleEndian: type)
        file.append(littleEndian: machine ?? (is64Bit ? Self.machineX86_64 : Self.machine386))
        file.append(littleEndian: UInt32(1))
        appendWord(&file, entry)
        appendWord(&file, programHeaderOffset ?? UInt64(headerSize))
        appendWord(&file, 0) // e_shoff
        file.append(littleEndian: UInt32(0)) // e_flags
        file.append(littleEndian: UInt16(headerSize))
        file.append(littleEndian: UInt16(programHeaderSize))
        file.append(littleEndian: UInt16(programHeaderCount))
        file.append(littleEndian: UInt16(is64Bit ? 64 : 40))
        file.append(littleEndian: UInt16(0))
        file.append(littleEndian: UInt16(0))

        for (segment, offset) in zip(segments, segmentOffsets) {
            appendProgramHeader(&file, type: segment.type, offset: segment.fileOffset ?? UInt64(offset),
                                virtual: segment.virtualAddress, physical: segment.physicalAddress,
                                fileSize: segment.fileSize ?? UInt64(segment.data.count), memorySize: segment.memorySize)
        }
        if !notes.isEmpty {
            appendProgramHeader(&file, type: 4, offset: UInt64(notesOffset), virtual: 0, physical: 0,
                                fileSize: UInt64(noteBytes.count), memorySize: 0)
        }
        for (segment, offset) in zip(segments, segmentOffsets) {
            file += [UInt8](repeating: 0, count: offset - file.count)
            file += segment.data
        }
        if !notes.isEmpty {
            file += [UInt8](repeating: 0, count: notesOffset - file.count)
            file += noteBytes
        }
        return file
    }

    private func appendWord(_ file: inout [UInt8], _ value: UInt64) {
        if is64Bit { file.append(littleEndian: value) } else { file.append(littleEndian: UInt32(truncatingIfNeeded: value)) }
    }

    private func appendProgramHeader(_ file: inout [UInt8], type: UInt32, offset: UInt64, virtual: UInt64,
                                     physical: UInt64, fileSize: UInt64, memorySize: UInt64) {
        file.append(littleEndian: type)
        if is64Bit { file.append(littleEndian: UInt32(7)) } // p_flags RWX
        appendWord(&file, offset)
        appendWord(&file, virtual)
        appendWord(&file, physical)
        appendWord(&file, fileSize)
        appendWord(&file, memorySize)
        if !is64Bit { file.append(littleEndian: UInt32(7)) }
        appendWord(&file, 16)
    }

    private static func encode(_ notes: [Note]) -> [UInt8] {
        var bytes: [UInt8] = []
        for note in notes {
            let name = Array(note.name.utf8) + [0]
            bytes.append(littleEndian: UInt32(name.count))
            bytes.append(littleEndian: UInt32(note.descriptor.count))
            bytes.append(littleEndian: note.type)
            bytes += name
            bytes.padToMultiple(of: 4)
            bytes += note.descriptor
            bytes.padToMultiple(of: 4)
        }
        return bytes
    }

    /// A Multiboot v1 header (spec 0.6.96, 3.1.1) with a valid checksum; with `addresses`
    /// (header, load, load_end, bss_end, entry), flag bit 16 is set and they follow.
    static func multibootHeader(flags: UInt32 = 0x3, addresses: [UInt32]? = nil) -> [UInt8] {
        let allFlags = flags | (addresses == nil ? 0 : 1 << 16)
        var bytes: [UInt8] = []
        bytes.append(littleEndian: UInt32(0x1BAD_B002))
        bytes.append(littleEndian: allFlags)
        bytes.append(littleEndian: 0 &- (UInt32(0x1BAD_B002) &+ allFlags))
        for address in addresses ?? [] { bytes.append(littleEndian: address) }
        return bytes
    }
}
