/// Memory sizes as `--memory` takes them: a whole number with an optional binary suffix K, M or G
/// (a trailing "B" or "iB" allowed); a bare number means MiB, as QEMU's -m reads it.
enum MemorySize {
    static let minimum: UInt64 = 2 << 20
    static let maximum: UInt64 = 1 << 40

    static func parse(_ text: String) throws(CommandError) -> UInt64 {
        var digits = Substring(text.uppercased())
        for unit in ["IB", "B"] where digits.hasSuffix(unit) && digits.count > unit.count {
            digits = digits.dropLast(unit.count)
            break
        }
        var shift: UInt64 = 20
        if let last = digits.last, let unitShift = ["K": UInt64(10), "M": 20, "G": 30][String(last)] {
            shift = unitShift
            digits = digits.dropLast()
        }
        guard let count = UInt64(digits), count <= maximum >> shift else { throw .badMemorySize(text) }
        let bytes = count << shift
        guard bytes >= minimum, bytes % 4096 == 0 else { throw .badMemorySize(text) }
        return bytes
    }
}
