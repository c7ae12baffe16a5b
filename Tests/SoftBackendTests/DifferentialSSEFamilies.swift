/// SSE2 integer, logic and move instructions on XMM registers and 128-bit memory (SDM vol. 2).
/// Legacy-SSE m128 operands must be 16-byte aligned except for the explicitly unaligned moves.
enum SSEFamilies {
    /// (mnemonic, mandatory prefix, opcode after 0F) for xmm, xmm/m128 operations.
    static let packed: [(String, UInt8?, UInt8)] = [
        ("pxor", 0x66, 0xef), ("por", 0x66, 0xeb), ("pand", 0x66, 0xdb), ("pandn", 0x66, 0xdf),
        ("pcmpeqb", 0x66, 0x74), ("pcmpeqw", 0x66, 0x75), ("pcmpeqd", 0x66, 0x76),
        ("pcmpgtb", 0x66, 0x64), ("pcmpgtw", 0x66, 0x65), ("pcmpgtd", 0x66, 0x66),
        ("punpcklbw", 0x66, 0x60), ("punpcklwd", 0x66, 0x61), ("punpckldq", 0x66, 0x62), ("punpcklqdq", 0x66, 0x6c),
        ("punpckhbw", 0x66, 0x68), ("punpckhwd", 0x66, 0x69), ("punpckhdq", 0x66, 0x6a), ("punpckhqdq", 0x66, 0x6d),
        ("paddb", 0x66, 0xfc), ("paddw", 0x66, 0xfd), ("paddd", 0x66, 0xfe), ("paddq", 0x66, 0xd4),
        ("psubb", 0x66, 0xf8), ("psubw", 0x66, 0xf9), ("psubd", 0x66, 0xfa), ("psubq", 0x66, 0xfb),
        ("paddusb", 0x66, 0xdc), ("paddusw", 0x66, 0xdd), ("paddsb", 0x66, 0xec), ("paddsw", 0x66, 0xed),
        ("psubusb", 0x66, 0xd8), ("psubusw", 0x66, 0xd9), ("psubsb", 0x66, 0xe8), ("psubsw", 0x66, 0xe9),
        ("pmullw", 0x66, 0xd5), ("pmulhw", 0x66, 0xe5), ("pmulhuw", 0x66, 0xe4), ("pmuludq", 0x66, 0xf4),
        ("pmaddwd", 0x66, 0xf5), ("pmaxub", 0x66, 0xde), ("pminub", 0x66, 0xda), ("pmaxsw", 0x66, 0xee),
        ("pminsw", 0x66, 0xea), ("pavgb", 0x66, 0xe0), ("pavgw", 0x66, 0xe3), ("psadbw", 0x66, 0xf6),
        ("packsswb", 0x66, 0x63), ("packuswb", 0x66, 0x67), ("packssdw", 0x66, 0x6b),
        ("psllw", 0x66, 0xf1), ("pslld", 0x66, 0xf2), ("psllq", 0x66, 0xf3), ("psrlw", 0x66, 0xd1),
        ("psrld", 0x66, 0xd2), ("psrlq", 0x66, 0xd3), ("psraw", 0x66, 0xe1), ("psrad", 0x66, 0xe2),
        ("movdqa", 0x66, 0x6f), ("movdqu", 0xf3, 0x6f), ("movq", 0xf3, 0x7e),
        ("xorps", nil, 0x57), ("andps", nil, 0x54), ("andnps", nil, 0x55), ("orps", nil, 0x56),
        ("movaps", nil, 0x28), ("movups", nil, 0x10),
    ]
    /// Stores: xmm/m, xmm.
    static let stores: [(String, UInt8?, UInt8)] = [
        ("movdqa", 0x66, 0x7f), ("movdqu", 0xf3, 0x7f), ("movaps", nil, 0x29), ("movups", nil, 0x11), ("movq", 0x66, 0xd6),
    ]
    static let unaligned: Set<String> = ["movdqu", "movups", "movq"]

    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = []
        for (mnemonic, prefix, opcode) in packed {
            specs.append(sse("\(mnemonic) xmm, xmm/m", prefix, [0x0f, opcode], aligned: !unaligned.contains(mnemonic)))
        }
        for (mnemonic, prefix, opcode) in stores {
            specs.append(sse("\(mnemonic) xmm/m, xmm", prefix, [0x0f, opcode], aligned: !unaligned.contains(mnemonic)))
        }
        for (mnemonic, prefix) in [("pshufd", UInt8(0x66)), ("pshuflw", 0xf2), ("pshufhw", 0xf3)] {
            specs.append(with(sse("\(mnemonic) xmm, xmm/m, imm8", prefix, [0x0f, 0x70], aligned: true)) { $0.immediateBytes = { _ in 1 } })
        }
        specs.append(with(sse("shufps xmm, xmm/m, imm8", nil, [0x0f, 0xc6], aligned: true)) { $0.immediateBytes = { _ in 1 } })
        let shifts: [(String, UInt8, Int)] = [
            ("psrlw", 0x71, 2), ("psraw", 0x71, 4), ("psllw", 0x71, 6), ("psrld", 0x72, 2), ("psrad", 0x72, 4),
            ("pslld", 0x72, 6), ("psrlq", 0x73, 2), ("psrldq", 0x73, 3), ("psllq", 0x73, 6), ("pslldq", 0x73, 7),
        ]
        for (mnemonic, opcode, digit) in shifts {
            specs.append(with(sse("\(mnemonic) xmm, imm8", 0x66, [0x0f, opcode], aligned: true)) {
                $0.digit = digit
                $0.memoryForms = [false]
                $0.immediateBytes = { _ in 1 }
                $0.customize = { instruction, _, rng in ShiftFamilies.shiftCount(&instruction, source: .immediate, rng: &rng) }
            })
        }
        specs += [
            with(ModRMSpec("movd xmm, r/m32") { _ in [0x0f, 0x6e] }) { $0.prefixes = [0x66]; $0.sizes = { _ in [.dword] }; $0.selectsSize = false },
            with(ModRMSpec("movd r/m32, xmm") { _ in [0x0f, 0x7e] }) { $0.prefixes = [0x66]; $0.sizes = { _ in [.dword] }; $0.selectsSize = false },
            with(ModRMSpec("movq xmm, r/m64") { _ in [0x0f, 0x6e] }) { $0.prefixes = [0x66]; $0.sizes = { $0 == .long64 ? [.qword] : [] } },
            with(ModRMSpec("movq r/m64, xmm") { _ in [0x0f, 0x7e] }) { $0.prefixes = [0x66]; $0.sizes = { $0 == .long64 ? [.qword] : [] } },
            with(ModRMSpec("pmovmskb r32, xmm") { _ in [0x0f, 0xd7] }) {
                $0.prefixes = [0x66]; $0.sizes = { _ in [.dword] }; $0.selectsSize = false; $0.memoryForms = [false]
            },
            with(ModRMSpec("pextrw r32, xmm, imm8") { _ in [0x0f, 0xc5] }) {
                $0.prefixes = [0x66]; $0.sizes = { _ in [.dword] }; $0.selectsSize = false; $0.memoryForms = [false]
                $0.immediateBytes = { _ in 1 }
            },
            with(ModRMSpec("pinsrw xmm, r32/m16, imm8") { _ in [0x0f, 0xc4] }) {
                $0.prefixes = [0x66]; $0.sizes = { _ in [.dword] }; $0.selectsSize = false; $0.immediateBytes = { _ in 1 }
            },
        ]
        return specs.flatMap(\.templates) + [misalignedMove]
    }

    static func sse(_ name: String, _ prefix: UInt8?, _ opcode: [UInt8], aligned: Bool) -> ModRMSpec {
        with(ModRMSpec(name) { _ in opcode }) {
            $0.prefixes = prefix.map { [$0] } ?? []
            $0.sizes = { _ in [.qword] }
            $0.selectsSize = false
            $0.alignment = aligned ? 16 : 1
        }
    }

    /// MOVDQA from a misaligned address: #GP(0) (SDM vol. 2, MOVDQA).
    static var misalignedMove: InstructionTemplate {
        InstructionTemplate("movdqa xmm, m128 (misaligned)") { rng, mode in
            let offset = rng.dataOffset(bytes: 16, alignment: 16) + 1 + rng.below(15)
            let form = InstructionForm(prefixes: [0x66], opcode: [0x0f, 0x6f], reg: rng.register(mode), rm: .data(offset: offset))
            return Instruction(name: "movdqa xmm, m128 (misaligned)", form: form)
        }
    }
}
