/// CRC32 r32/r64, r/m8/16/32/64 (SSE4.2; SDM vol. 2, CRC32): accumulates the CRC-32C (Castagnoli)
/// polynomial 11EDC6F41h over the source's bytes, least significant bit first (the bit-reflected
/// form, so the reflected polynomial 82F63B78h). No initial or final inversion; the destination gets
/// the 32-bit result zero-extended, also with REX.W. Flags are unchanged.
extension CPUCore {
    mutating func crc32(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let source = try readRM(ins, i.size)
        var crc = UInt32(truncatingIfNeeded: register(i.reg, 4))
        for byte in 0..<Int(i.size) {
            crc ^= UInt32(truncatingIfNeeded: source >> UInt64(byte * 8)) & 0xff
            for _ in 0..<8 { crc = crc >> 1 ^ (crc & 1 == 0 ? 0 : 0x82f6_3b78) }
        }
        setRegister(i.reg, 4, UInt64(crc))
    }
}
