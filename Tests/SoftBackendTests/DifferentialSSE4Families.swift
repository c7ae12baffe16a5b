/// SSSE3 and SSE4.1/4.2 integer instructions (the 0F 38 and 0F 3A maps) and CRC32 (SDM vol. 2).
/// m128 operands of legacy-SSE forms must be 16-byte aligned; narrower memory operands need not be.
enum SSE4Families {
    /// (mnemonic, opcode after 0F 38) for 66-prefixed xmm, xmm/m128 operations.
    static let packed38: [(String, UInt8)] = [
        ("pshufb", 0x00), ("phaddw", 0x01), ("phaddd", 0x02), ("phaddsw", 0x03), ("pmaddubsw", 0x04),
        ("phsubw", 0x05), ("phsubd", 0x06), ("phsubsw", 0x07), ("psignb", 0x08), ("psignw", 0x09),
        ("psignd", 0x0a), ("pmulhrsw", 0x0b), ("pabsb", 0x1c), ("pabsw", 0x1d), ("pabsd", 0x1e),
        ("pblendvb", 0x10), ("blendvps", 0x14), ("blendvpd", 0x15), ("ptest", 0x17),
        ("pmuldq", 0x28), ("pcmpeqq", 0x29), ("packusdw", 0x2b), ("pcmpgtq", 0x37),
        ("pminsb", 0x38), ("pminsd", 0x39), ("pminuw", 0x3a), ("pminud", 0x3b),
        ("pmaxsb", 0x3c), ("pmaxsd", 0x3d), ("pmaxuw", 0x3e), ("pmaxud", 0x3f),
        ("pmulld", 0x40), ("phminposuw", 0x41),
    ]
    /// PMOVSX/PMOVZX: (kind, bytes read); opcodes 0F 38 20+kind (sign) and 30+kind (zero).
    static let extensions: [(String, Int)] = [("bw", 8), ("bd", 4), ("bq", 2), ("wd", 8), ("wq", 4), ("dq", 8)]
    /// (mnemonic, opcode after 0F 3A) for 66-prefixed xmm, xmm/m128, imm8 operations.
    static let packedImmediate: [(String, UInt8)] = [
        ("blendps", 0x0c), ("blendpd", 0x0d), ("pblendw", 0x0e), ("palignr", 0x0f), ("mpsadbw", 0x42),
    ]

    static var templates: [InstructionTemplate] {
        var specs: [ModRMSpec] = []
        for (mnemonic, opcode) in packed38 {
            specs.append(SSEFamilies.sse("\(mnemonic) xmm, xmm/m", 0x66, [0x0f, 0x38, opcode], aligned: true))
        }
        for (index, (kind, bytes)) in extensions.enumerated() {
            for (sign, base) in [("sx", UInt8(0x20)), ("zx", 0x30)] {
                specs.append(with(SSEFamilies.sse("pmov\(sign)\(kind) xmm, xmm/m\(bytes * 8)", 0x66, [0x0f, 0x38, base + UInt8(index)],
                                                  aligned: false)) { $0.rmSize = { _ in bytes == 8 ? .qword : bytes == 4 ? .dword : .word } })
            }
        }
        specs.append(with(SSEFamilies.sse("movntdqa xmm, m128", 0x66, [0x0f, 0x38, 0x2a], aligned: true)) { $0.memoryForms = [true] })
        for (mnemonic, opcode) in packedImmediate {
            specs.append(immediate(SSEFamilies.sse("\(mnemonic) xmm, xmm/m, imm8", 0x66, [0x0f, 0x3a, opcode], aligned: true)))
        }
        specs.append(immediate(with(SSEFamilies.sse("insertps xmm, xmm/m32, imm8", 0x66, [0x0f, 0x3a, 0x21], aligned: false)) {
            $0.rmSize = { _ in .dword }
        }))
        specs += elementMoves + crc32 + sse3 + stringCompares
        for (mnemonic, opcode) in [("roundps", UInt8(0x08)), ("roundpd", 0x09), ("dpps", 0x40), ("dppd", 0x41)] {
            specs.append(floatOperands(immediate(SSEFamilies.sse("\(mnemonic) xmm, xmm/m, imm8", 0x66, [0x0f, 0x3a, opcode], aligned: true))))
        }
        for (mnemonic, opcode, size) in [("roundss", UInt8(0x0a), OperandSize.dword), ("roundsd", 0x0b, .qword)] {
            specs.append(floatOperands(immediate(with(SSEFamilies.sse("\(mnemonic) xmm, xmm/m\(size.bits), imm8", 0x66,
                                                                      [0x0f, 0x3a, opcode], aligned: false)) { $0.rmSize = { _ in size } })))
        }
        return specs.flatMap(\.templates)
    }

    /// SSE3's xmm forms (FISTTP is x87; MONITOR/MWAIT are not implemented). LDDQU and MOVDDUP's m64
    /// need no alignment.
    static var sse3: [ModRMSpec] {
        let packed: [(String, UInt8, UInt8)] = [
            ("addsubpd", 0x66, 0xd0), ("addsubps", 0xf2, 0xd0), ("haddpd", 0x66, 0x7c), ("haddps", 0xf2, 0x7c),
            ("hsubpd", 0x66, 0x7d), ("hsubps", 0xf2, 0x7d), ("movsldup", 0xf3, 0x12), ("movshdup", 0xf3, 0x16),
        ]
        return packed.map { floatOperands(SSEFamilies.sse("\($0.0) xmm, xmm/m", $0.1, [0x0f, $0.2], aligned: true)) } + [
            SSEFamilies.sse("movddup xmm, xmm/m64", 0xf2, [0x0f, 0x12], aligned: false),
            with(SSEFamilies.sse("lddqu xmm, m128", 0xf2, [0x0f, 0xf0], aligned: false)) { $0.memoryForms = [true] },
        ]
    }

    static func immediate(_ spec: ModRMSpec) -> ModRMSpec { with(spec) { $0.immediateBytes = { _ in 1 } } }

    /// PEXTRB/W/D/Q, EXTRACTPS and PINSRB/D/Q. The byte and word forms take a 32-bit register (no
    /// AH..BH encodings) but a one- or two-byte memory operand, so their register and memory forms
    /// are separate specs.
    static var elementMoves: [ModRMSpec] {
        var specs: [ModRMSpec] = []
        let narrow: [(String, UInt8, OperandSize)] = [
            ("pextrb r32/m8, xmm", 0x14, .byte), ("pextrw r32/m16, xmm", 0x15, .word), ("pinsrb xmm, r32/m8", 0x20, .byte),
        ]
        for (name, opcode, memorySize) in narrow {
            for memory in [false, true] {
                specs.append(immediate(with(ModRMSpec("\(name), imm8") { _ in [0x0f, 0x3a, opcode] }) {
                    $0.prefixes = [0x66]; $0.sizes = { _ in [.dword] }; $0.selectsSize = false
                    $0.memoryForms = [memory]
                    if memory { $0.rmSize = { _ in memorySize } }
                }))
            }
        }
        for (name, opcode) in [("pextrd r/m32, xmm", UInt8(0x16)), ("extractps r/m32, xmm", 0x17), ("pinsrd xmm, r/m32", 0x22)] {
            specs.append(immediate(with(ModRMSpec("\(name), imm8") { _ in [0x0f, 0x3a, opcode] }) {
                $0.prefixes = [0x66]; $0.sizes = { _ in [.dword] }; $0.selectsSize = false
            }))
        }
        for (name, opcode) in [("pextrq r/m64, xmm", UInt8(0x16)), ("pinsrq xmm, r/m64", 0x22)] {
            specs.append(immediate(with(ModRMSpec("\(name), imm8") { _ in [0x0f, 0x3a, opcode] }) {
                $0.prefixes = [0x66]; $0.sizes = { $0 == .long64 ? [.qword] : [] }
            }))
        }
        return specs
    }

    /// CRC32 r32/r64, r/m8 (F2 0F 38 F0) and r32/r64, r/m16/32/64 (F2 0F 38 F1).
    static var crc32: [ModRMSpec] {
        [
            with(ModRMSpec("crc32 r{s}, r/m8") { _ in [0x0f, 0x38, 0xf0] }) {
                $0.prefixes = [0xf2]
                $0.sizes = { OperandSize.wide(in: $0).filter { $0 != .word } }
                $0.rmSize = { _ in .byte }
            },
            with(ModRMSpec("crc32 r, r/m{s}") { _ in [0x0f, 0x38, 0xf1] }) {
                $0.prefixes = [0xf2]
                $0.sizes = OperandSize.wide(in:)
            },
        ]
    }

    /// PCMPESTRM/I and PCMPISTRM/I. Random operands would almost never hold a zero element, an equal
    /// pair or a short explicit length, so the operands come from a small alphabet with zeros and
    /// sign-boundary values, and RAX/RDX are small signed lengths (sometimes huge ones).
    static var stringCompares: [ModRMSpec] {
        [("pcmpestrm", UInt8(0x60)), ("pcmpestri", 0x61), ("pcmpistrm", 0x62), ("pcmpistri", 0x63)].map { mnemonic, opcode in
            with(immediate(SSEFamilies.sse("\(mnemonic) xmm, xmm/m, imm8", 0x66, [0x0f, 0x3a, opcode], aligned: false))) {
                $0.customize = { instruction, instance, _ in
                    instruction.alsoPrepare { state, data, rng in
                        let alphabet: [UInt8] = [0, 0x61, 0x62, 0x63, 0x7f, 0x80, 0xff, 0x01]
                        func text(_ rng: inout SeededGenerator) -> UInt64 {
                            (0..<8).reduce(UInt64(0)) { $0 | UInt64(rng.pick(alphabet)) << UInt64($1 * 8) }
                        }
                        for index in state.xmm.indices where rng.chance(0.8) { state.xmm[index] = text(&rng) }
                        if case let .memory(offset) = instance.operands.rmLocation {
                            for byte in offset..<min(offset + 16, data.count) where rng.chance(0.8) { data[byte] = rng.pick(alphabet) }
                        }
                        for register in [0, 2] {
                            state.gpr[register] = rng.chance(0.9) ? UInt64(bitPattern: Int64(rng.below(41)) - 20) : rng.next()
                        }
                    }
                }
            }
        }
    }

    /// Plants special floats (signed zeros, infinities, quiet and signalling NaNs with payloads,
    /// denormals, values at the integer conversions' limits) in random lanes of every XMM register
    /// and of the memory operand: the random integers of the other families almost never hit them,
    /// and NaN propagation (which operand's payload wins) is where an implementation goes wrong.
    /// MXCSR is random too (`SeededGenerator.mxcsr`).
    static func floatOperands(_ spec: ModRMSpec) -> ModRMSpec {
        with(spec) {
            $0.customize = { instruction, instance, _ in
                instruction.alsoPrepare { state, data, rng in
                    state.mxcsr = rng.mxcsr()
                    for index in state.xmm.indices { state.xmm[index] = rng.floatLanes(state.xmm[index]) }
                    if case let .memory(offset) = instance.operands.rmLocation {
                        for lane in 0..<2 {
                            let start = offset + lane * 8
                            guard start + 8 <= data.count else { continue }
                            let value = rng.floatLanes(data[start..<start + 8].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << UInt64($1.offset * 8) })
                            for byte in 0..<8 { data[start + byte] = UInt8(truncatingIfNeeded: value >> UInt64(byte * 8)) }
                        }
                    }
                }
            }
        }
    }
}

extension SeededGenerator {
    static let specialDoubles: [UInt64] = [
        0, 0x8000_0000_0000_0000, 0x7ff0_0000_0000_0000, 0xfff0_0000_0000_0000, 0x7ff8_0000_0000_0000,
        0x7ff8_0000_dead_beef, 0xfff8_0000_0000_0001, 0x7ff0_0000_0000_0001, 0xfff4_0000_0000_0002,
        0x0000_0000_0000_0001, 0x800f_ffff_ffff_ffff, 0x3ff0_0000_0000_0000, 0x7fef_ffff_ffff_ffff,
        0x41e0_0000_0000_0000, 0xc1e0_0000_0020_0000, 0x43e0_0000_0000_0000, 0xc3e0_0000_0000_0000,
        0x3ff8_0000_0000_0000, 0xbfe0_0000_0000_0000, 0x0010_0000_0000_0000, 0x3690_0000_0000_0000,
    ]
    static let specialFloats: [UInt32] = [
        0, 0x8000_0000, 0x7f80_0000, 0xff80_0000, 0x7fc0_0000, 0x7fc0_beef, 0xffc0_0001, 0x7f80_0001,
        0xffa0_0002, 0x0000_0001, 0x807f_ffff, 0x3f80_0000, 0x7f7f_ffff,
        0x4f00_0000, 0xcf00_0001, 0x5f00_0000, 0x3fc0_0000, 0xbf00_0000, 0x0080_0000, 0x0d00_0000,
    ]

    /// `value` with some of its double or float lanes replaced by special values.
    mutating func floatLanes(_ value: UInt64) -> UInt64 {
        guard chance(0.6) else { return value }
        if chance(0.5) { return pick(Self.specialDoubles) }
        var result = value
        for lane in 0..<2 where chance(0.6) {
            let shift = UInt64(lane * 32)
            result = result & ~(0xffff_ffff << shift) | UInt64(pick(Self.specialFloats)) << shift
        }
        return result
    }
}
