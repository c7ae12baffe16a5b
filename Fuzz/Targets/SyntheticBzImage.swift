/// A Linux bzImage made to order (Documentation/arch/x86/boot.rst): `sectors` of setup code after
/// the boot sector, the setup header filled from the fields, then `payload` (the protected-mode
/// kernel). The loader tests vary one field at a time; the fuzzer starts from the default.
public struct SyntheticBzImage {
    public init() {}

    public var version: UInt16 = 0x020f
    public var sectors: UInt8 = 4
    public var loadFlags: UInt8 = 0x01
    public var xloadflags: UInt16 = 0x01
    public var relocatable = true
    public var preferredAddress: UInt64 = 0x100_0000
    public var initSize: UInt32 = 0x20_0000
    public var initrdAddressMax: UInt32 = 0x7fff_ffff
    public var commandLineSize: UInt32 = 2047
    public var payload = (0..<0x3000).map { UInt8(truncatingIfNeeded: 0x40 + $0) }

    public var bytes: [UInt8] {
        var file = [UInt8](repeating: 0, count: (Int(sectors) + 1) * 512)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (index, byte) in $0.enumerated() { file[offset + index] = byte } }
        }
        put(sectors, at: 0x1f1)
        put(UInt16(0xaa55), at: 0x1fe)
        put(UInt8(0xeb), at: 0x200)
        put(UInt8(0x6a), at: 0x201) // the header runs to 0x26c, as in 2.15 kernels
        put(UInt32(0x5372_6448), at: 0x202)
        put(version, at: 0x206)
        put(loadFlags, at: 0x211)
        put(UInt32(0x10_0000), at: 0x214)
        put(initrdAddressMax, at: 0x22c)
        put(UInt32(0x20_0000), at: 0x230)
        put(UInt8(relocatable ? 1 : 0), at: 0x234)
        put(xloadflags, at: 0x236)
        put(commandLineSize, at: 0x238)
        put(preferredAddress, at: 0x258)
        put(initSize, at: 0x260)
        return file + payload
    }
}
