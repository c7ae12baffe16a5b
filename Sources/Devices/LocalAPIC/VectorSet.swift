/// 256 interrupt vectors as bits: the local APIC's IRR, ISR and TMR (SDM vol. 3, 10.8.4).
struct VectorSet: Equatable {
    private var words = SIMD4<UInt64>()

    func contains(_ vector: UInt8) -> Bool { words[Int(vector >> 6)] & (1 << UInt64(vector & 63)) != 0 }

    mutating func insert(_ vector: UInt8) { words[Int(vector >> 6)] |= 1 << UInt64(vector & 63) }

    mutating func remove(_ vector: UInt8) { words[Int(vector >> 6)] &= ~(1 << UInt64(vector & 63)) }

    var isEmpty: Bool { words == SIMD4<UInt64>() }

    /// The highest vector in the set: the one with the highest priority.
    var highest: UInt8? {
        for word in stride(from: 3, through: 0, by: -1) where words[word] != 0 {
            return UInt8(word * 64 + 63 - words[word].leadingZeroBitCount)
        }
        return nil
    }

    /// The 32-bit register `index` (0...7) as the MMIO page shows it: vectors 32*index ... 32*index+31.
    func register(_ index: Int) -> UInt32 {
        UInt32(truncatingIfNeeded: words[(index >> 1) & 3] >> UInt64((index & 1) * 32))
    }
}
