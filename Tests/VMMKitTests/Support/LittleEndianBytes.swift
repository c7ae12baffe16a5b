/// Appending little-endian integers to a byte array, for building test files.
extension Array where Element == UInt8 {
    mutating func append<T: FixedWidthInteger>(littleEndian value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func store<T: FixedWidthInteger>(littleEndian value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { replaceSubrange(offset..<offset + $0.count, with: $0) }
    }

    mutating func padToMultiple(of alignment: Int) {
        while count % alignment != 0 { append(0) }
    }
}
