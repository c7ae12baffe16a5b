/// The chip's 128 bytes: 14 clock registers, then battery-backed RAM that PC firmware uses for its
/// configuration. Indices are masked to 7 bits, so no guest value can reach outside.
struct CMOSRAM {
    static let size = 128
    private var bytes = [UInt8](repeating: 0, count: size)

    subscript(index: UInt8) -> UInt8 {
        get { bytes[Int(index & 0x7F)] }
        set { bytes[Int(index & 0x7F)] = newValue }
    }

    /// A 16-bit little-endian value at `index`, `index + 1`, as PC firmware stores sizes.
    mutating func storeWord(_ value: UInt64, at index: UInt8) {
        self[index] = UInt8(truncatingIfNeeded: value)
        self[index + 1] = UInt8(truncatingIfNeeded: value >> 8)
    }
}
