/// Makes hostile variants of a valid input: random bit flips and byte values, boundary numbers
/// written over the fields a parser trusts (`fieldOffsets`: header fields, sizes, counts, offsets),
/// truncation and growth. No coverage feedback: the seed corpus and the field offsets aim it, and
/// libFuzzer (scripts/fuzz) adds coverage guidance on top where it is built in.
public struct Mutator {
    /// Values parsers get wrong: zero, all ones, sign boundaries, page and sector sizes.
    static let boundaryValues: [UInt64] = [
        0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x1ff, 0x200, 0xfff, 0x1000, 0x7fff, 0x8000, 0xffff, 0x1_0000,
        0x10_0000, 0x7fff_ffff, 0x8000_0000, 0xffff_f000, 0xffff_ffff, 0x1_0000_0000,
        0x7fff_ffff_ffff_ffff, 0x8000_0000_0000_0000, 0xffff_ffff_ffff_f000, 0xffff_ffff_ffff_ffff,
    ]

    public var random: SplitMix64

    public init(seed: UInt64) { random = SplitMix64(seed: seed) }

    /// A number in 0..<count.
    private mutating func pick(_ count: Int) -> Int { Int(random.next(upperBound: UInt64(max(count, 1)))) }

    /// One to four mutations of `input`, aimed at `fieldOffsets` half the time.
    public mutating func mutate(_ input: [UInt8], fieldOffsets: [Int]) -> [UInt8] {
        var bytes = input
        for _ in 0...pick(4) {
            guard !bytes.isEmpty else { return Array(input.prefix(1)) }
            let offset = fieldOffsets.isEmpty || random.next() & 1 == 0
                ? pick(bytes.count) : fieldOffsets[pick(fieldOffsets.count)] % bytes.count
            switch pick(6) {
            case 0:
                bytes[offset] ^= UInt8(1) << UInt8(pick(8))
            case 1:
                bytes[offset] = UInt8(truncatingIfNeeded: Self.boundaryValues[pick(Self.boundaryValues.count)])
            case 2, 3:
                let value = Self.boundaryValues[pick(Self.boundaryValues.count)]
                let width = [2, 4, 8][pick(3)]
                for index in 0..<width where offset + index < bytes.count {
                    bytes[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(8 * index))
                }
            case 4:
                bytes.removeSubrange(offset...)
            default:
                let length = pick(4096)
                bytes.insert(contentsOf: repeatElement(UInt8(truncatingIfNeeded: random.next()), count: length), at: offset)
            }
        }
        return bytes
    }
}
