/// The SSE/SSE2 floating-point instructions (SDM vol. 2): arithmetic, CMPxx, COMISx/UCOMISx and
/// every conversion, with special operands and a random MXCSR (rounding control, DAZ, FTZ, sticky
/// flags, and now and then unmasked exceptions, which must raise #XM with the destination
/// unchanged), so the flags, masked responses and faults are compared with the host CPU's.
enum SSEFloatFamilies {
    /// (mnemonic, mandatory prefix, opcode after 0F, memory operand: nil for an aligned m128) for
    /// xmm, xmm/m forms.
    static var vectorForms: [(String, UInt8?, UInt8, OperandSize?)] {
        var forms: [(String, UInt8?, UInt8, OperandSize?)] = []
        for (operation, opcode) in [("sqrt", UInt8(0x51)), ("add", 0x58), ("mul", 0x59), ("sub", 0x5c), ("min", 0x5d), ("div", 0x5e), ("max", 0x5f)] {
            for (suffix, prefix, size) in formats { forms.append(("\(operation)\(suffix)", prefix, opcode, size)) }
        }
        forms += [
            ("cvtps2pd", nil, 0x5a, .qword), ("cvtpd2ps", 0x66, 0x5a, nil), ("cvtss2sd", 0xf3, 0x5a, .dword),
            ("cvtsd2ss", 0xf2, 0x5a, .qword), ("cvtdq2ps", nil, 0x5b, nil), ("cvtps2dq", 0x66, 0x5b, nil),
            ("cvttps2dq", 0xf3, 0x5b, nil), ("cvttpd2dq", 0x66, 0xe6, nil), ("cvtdq2pd", 0xf3, 0xe6, .qword),
            ("cvtpd2dq", 0xf2, 0xe6, nil),
        ]
        return forms
    }

    /// The four formats: (suffix, mandatory prefix, scalar memory operand).
    static let formats: [(String, UInt8?, OperandSize?)] = [("ps", nil, nil), ("pd", 0x66, nil), ("ss", 0xf3, .dword), ("sd", 0xf2, .qword)]

    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = []
        for (mnemonic, prefix, opcode, size) in vectorForms {
            specs.append(floating(with(SSEFamilies.sse("\(mnemonic) xmm, xmm/m", prefix, [0x0f, opcode], aligned: size == nil)) {
                if let size { $0.rmSize = { _ in size } }
            }))
        }
        for (suffix, prefix, size) in formats {
            specs.append(floating(SSE4Families.immediate(with(SSEFamilies.sse("cmp\(suffix) xmm, xmm/m, imm8", prefix, [0x0f, 0xc2],
                                                                             aligned: size == nil)) {
                if let size { $0.rmSize = { _ in size } }
            })))
        }
        for (mnemonic, prefix, opcode) in [("ucomiss", UInt8?.none, UInt8(0x2e)), ("ucomisd", 0x66, 0x2e), ("comiss", nil, 0x2f), ("comisd", 0x66, 0x2f)] {
            specs.append(floating(with(SSEFamilies.sse("\(mnemonic) xmm, xmm/m", prefix, [0x0f, opcode], aligned: false)) {
                $0.rmSize = { _ in prefix == 0x66 ? .qword : .dword }
            }))
        }
        for (mnemonic, prefix) in [("cvtsi2ss", UInt8(0xf3)), ("cvtsi2sd", 0xf2)] {
            specs.append(floating(with(ModRMSpec("\(mnemonic) xmm, r/m{s}") { _ in [0x0f, 0x2a] }) {
                $0.prefixes = [prefix]
                $0.sizes = { $0 == .long64 ? [.dword, .qword] : [.dword] }
            }))
        }
        for (mnemonic, prefix, opcode) in [("cvttss2si", UInt8(0xf3), UInt8(0x2c)), ("cvtss2si", 0xf3, 0x2d), ("cvttsd2si", 0xf2, 0x2c),
                                           ("cvtsd2si", 0xf2, 0x2d)] {
            specs.append(floating(with(ModRMSpec("\(mnemonic) r{s}, xmm/m") { _ in [0x0f, opcode] }) {
                $0.prefixes = [prefix]
                $0.sizes = { $0 == .long64 ? [.dword, .qword] : [.dword] }
                $0.rmSize = { _ in prefix == 0xf2 ? .qword : .dword }
            }))
        }
        return specs.flatMap(\.templates)
    }

    /// Special operands (SSE4Families.floatOperands) and a random MXCSR.
    static func floating(_ spec: ModRMSpec) -> ModRMSpec { SSE4Families.floatOperands(spec) }
}

extension SeededGenerator {
    /// An MXCSR value: the default most of the time; otherwise a random rounding control, DAZ and
    /// FTZ, sticky flags already set, and sometimes exceptions unmasked.
    mutating func mxcsr() -> UInt32 {
        var value: UInt32 = 0x1f80
        guard chance(0.7) else { return value }
        value |= UInt32(below(4)) << 13
        if chance(0.3) { value |= 0x40 }   // DAZ
        if chance(0.3) { value |= 0x8000 } // FTZ
        if chance(0.3) { value |= UInt32(truncatingIfNeeded: next()) & 0x3f }
        if chance(0.3) { value &= ~(UInt32(truncatingIfNeeded: next()) & 0x1f80) }
        return value
    }
}
