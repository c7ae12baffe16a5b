#if canImport(Glibc)
import Glibc
#endif

/// The names a shared library takes from other objects: the undefined entries of its dynamic
/// symbol table (System V gABI, "Sections" and "Symbol Table"; ELF-64 Object File Format 1.5,
/// sections 4 and 5). Only what `PluginBindings` needs: 64-bit little-endian files, read through
/// bounds-checked accessors, so a file dlopen accepted but this cannot follow gives nil, not a trap.
enum ELFUndefinedSymbols {
    private static let dynamicSymbolTableType: UInt32 = 11  // SHT_DYNSYM
    private static let symbolSize = 24                       // sizeof(Elf64_Sym)

    static func names(inFileAt path: String) -> [String]? {
        guard let file = contents(of: path),
              file.starts(with: [0x7f, 0x45, 0x4c, 0x46, 2, 1]),  // ELFMAG, ELFCLASS64, ELFDATA2LSB
              let sectionTable = file.offset(file.integer(UInt64.self, at: 0x28)),
              let sectionSize = file.integer(UInt16.self, at: 0x3a).map(Int.init),
              let sectionCount = file.integer(UInt16.self, at: 0x3c)
        else { return nil }
        var names: [String] = []
        for index in 0..<Int(sectionCount) {
            let section = sectionTable + index * sectionSize
            guard let type = file.integer(UInt32.self, at: section + 4) else { return nil }
            guard type == dynamicSymbolTableType else { continue }
            guard let symbols = file.offset(file.integer(UInt64.self, at: section + 0x18)),
                  let symbolsSize = file.offset(file.integer(UInt64.self, at: section + 0x20)),
                  let link = file.integer(UInt32.self, at: section + 0x28),
                  let strings = file.offset(file.integer(UInt64.self, at: sectionTable + Int(link) * sectionSize + 0x18))
            else { return nil }
            // Entry 0 is the reserved null symbol.
            for entry in stride(from: symbols + symbolSize, to: symbols + symbolsSize, by: symbolSize) {
                guard let name = file.integer(UInt32.self, at: entry),
                      let sectionIndex = file.integer(UInt16.self, at: entry + 6)
                else { return nil }
                guard sectionIndex == 0, name != 0 else { continue }  // SHN_UNDEF: defined elsewhere
                guard let text = file.cString(at: strings + Int(name)) else { return nil }
                names.append(text)
            }
        }
        return names
    }

    private static func contents(of path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            guard count >= 0 else { return nil }
            guard count > 0 else { return bytes }
            bytes.append(contentsOf: chunk[..<count])
        }
    }
}

extension [UInt8] {
    /// The little-endian integer at `offset`, or nil when it does not lie wholly inside.
    fileprivate func integer<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T? {
        let size = MemoryLayout<T>.size
        guard offset >= 0, offset <= count - size else { return nil }
        return (0..<size).reduce(T.zero) { $0 | T(self[offset + $1]) << ($1 * 8) }
    }

    /// A file offset read from the file, as an Int, or nil when it points past the end (so sums of
    /// a few offsets and sizes cannot overflow).
    fileprivate func offset(_ value: UInt64?) -> Int? {
        guard let value, value <= UInt64(count) else { return nil }
        return Int(value)
    }

    /// The NUL-terminated string at `offset`, or nil when no NUL ends it inside.
    fileprivate func cString(at offset: Int) -> String? {
        guard offset >= 0, offset < count, let end = self[offset...].firstIndex(of: 0) else { return nil }
        return String(decoding: self[offset..<end], as: UTF8.self)
    }
}
