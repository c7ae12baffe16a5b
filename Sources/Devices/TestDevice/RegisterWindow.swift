/// Little-endian sub-register access over a small bank of registers: an access of `size` bytes at
/// `offset` reads or writes those bytes of whichever registers they fall in, so a guest may use
/// any width at any offset, as with a real device's byte-enable lanes.
enum RegisterWindow {
    /// Composes a read from `byteAt`, lowest address in the lowest byte.
    @inline(__always)
    static func read(offset: UInt64, size: Int, byteAt: (UInt64) -> UInt8) -> UInt64 {
        var value: UInt64 = 0
        for index in 0..<min(size, 8) {
            value |= UInt64(byteAt(offset &+ UInt64(index))) << UInt64(index * 8)
        }
        return value
    }

    /// Replaces bytes `[offset - base, offset - base + size)` of `register` that the access covers.
    @inline(__always)
    static func merge(_ register: UInt64, width: Int, base: UInt64, offset: UInt64, size: Int, value: UInt64) -> UInt64 {
        var result = register
        for index in 0..<min(size, 8) {
            let address = offset &+ UInt64(index)
            guard address >= base, address < base + UInt64(width) else { continue }
            let shift = (address - base) * 8
            let byte = (value >> UInt64(index * 8)) & 0xff
            result = (result & ~(UInt64(0xff) << shift)) | (byte << shift)
        }
        return result
    }

    /// Byte `offset - base` of a `width`-byte register, or nil when `offset` is outside it.
    @inline(__always)
    static func byte(of register: UInt64, width: Int, base: UInt64, at offset: UInt64) -> UInt8? {
        guard offset >= base, offset < base + UInt64(width) else { return nil }
        return UInt8(truncatingIfNeeded: register >> ((offset - base) * 8))
    }
}
