import CHostX87

/// The 66-prefixed xmm instructions of the 0F 38 and 0F 3A maps: SSSE3 and SSE4.1/4.2 integer
/// operations (SDM vol. 2, tables ). The unprefixed SSSE3 forms operate on MMX registers,
/// which this CPU does not implement (CPUID.1:EDX.MMX is clear, the other MMX opcodes #UD too), so
/// they are #UD.
extension Decoder {
    /// `sseBinary` members of the 0F 38 map, in `DecodedInstruction.sub`, after `SSEBinary`'s.
    enum SSE38 {
        static let pshufb: UInt8 = 60, phaddw: UInt8 = 61, phaddd: UInt8 = 62, phaddsw: UInt8 = 63
        static let pmaddubsw: UInt8 = 64, phsubw: UInt8 = 65, phsubd: UInt8 = 66, phsubsw: UInt8 = 67
        static let psignb: UInt8 = 68, psignw: UInt8 = 69, psignd: UInt8 = 70, pmulhrsw: UInt8 = 71
        static let pabsb: UInt8 = 72, pabsw: UInt8 = 73, pabsd: UInt8 = 74
        static let pmuldq: UInt8 = 75, pcmpeqq: UInt8 = 76, packusdw: UInt8 = 77, pcmpgtq: UInt8 = 78
        static let pminsb: UInt8 = 79, pminsd: UInt8 = 80, pminuw: UInt8 = 81, pminud: UInt8 = 82
        static let pmaxsb: UInt8 = 83, pmaxsd: UInt8 = 84, pmaxuw: UInt8 = 85, pmaxud: UInt8 = 86
        static let pmulld: UInt8 = 87, phminposuw: UInt8 = 88
        static let first = pshufb, last = phminposuw
    }

    /// The xmm, xmm/m128 operations of the 0F 38 map, by opcode.
    static func binary38(_ opcode: UInt8) -> UInt8? {
        switch opcode {
        case 0x00...0x0b: return SSE38.pshufb + opcode
        case 0x1c...0x1e: return SSE38.pabsb + (opcode - 0x1c)
        case 0x28: return SSE38.pmuldq
        case 0x29: return SSE38.pcmpeqq
        case 0x2b: return SSE38.packusdw
        case 0x37: return SSE38.pcmpgtq
        case 0x38...0x3f: return SSE38.pminsb + (opcode - 0x38)
        case 0x40: return SSE38.pmulld
        case 0x41: return SSE38.phminposuw
        default: return nil
        }
    }

    mutating func decodeSSE38(_ opcode: UInt8) throws(DecodeError) {
        guard operandSizeOverride, repPrefix == 0 else { return undefined() }
        ins.size = 16
        let memory = try readModRM()
        switch opcode {
        case 0x10, 0x14, 0x15:
            // PBLENDVB, BLENDVPS, BLENDVPD: the mask is XMM0 (implicit).
            ins.op = .sseBlendVariable; ins.sub = opcode == 0x10 ? 1 : (opcode == 0x14 ? 4 : 8)
        case 0x17:
            ins.op = .ptest
        case 0x20...0x25, 0x30...0x35:
            // PMOVSX/PMOVZX: sub = bits 0-2 the kind (bw bd bq wd wq dq), bit 4 zero-extension.
            guard opcode & 7 < 6 else { return undefined() }
            ins.op = .ssePackedExtend; ins.sub = opcode & 0x17
        case 0x2a:
            // MOVNTDQA xmm, m128: an aligned load (the non-temporal hint has no meaning here).
            guard memory else { return undefined() }
            ins.op = .sseMoveLoad; ins.sub = 1
        default:
            guard let operation = Self.binary38(opcode) else { return undefined() }
            ins.op = .sseBinary; ins.sub = operation
        }
    }

    /// `sseBinaryImmediate` members (0F 3A xmm, xmm/m128, imm8).
    enum SSE3A {
        static let blendps: UInt8 = 0, blendpd: UInt8 = 1, pblendw: UInt8 = 2, palignr: UInt8 = 3, mpsadbw: UInt8 = 4
    }

    mutating func decodeSSE3A(_ opcode: UInt8) throws(DecodeError) {
        guard operandSizeOverride, repPrefix == 0 else { return undefined() }
        ins.size = 16
        try readModRM()
        switch opcode {
        case 0x08...0x0b:
            // ROUNDPS, ROUNDPD, ROUNDSS, ROUNDSD: imm8[3:0] is the whole control.
            let format = opcode - 0x08
            hostSSE(HOST_SSE_ROUND + Int32(format) * 16 + Int32(try next() & 15), memoryBytes: Self.floatOperandBytes(format))
            return
        case 0x40:
            hostSSE(HOST_SSE_DPPS + Int32(try next()), memoryBytes: 16)
            return
        case 0x41:
            // DPPD uses imm8[5:4] and imm8[1:0] only.
            let control = try next()
            hostSSE(HOST_SSE_DPPD + Int32(control >> 4 & 3) * 4 + Int32(control & 3), memoryBytes: 16)
            return
        case 0x0c...0x0f, 0x42:
            ins.op = .sseBinaryImmediate
            ins.sub = opcode == 0x42 ? SSE3A.mpsadbw : opcode - 0x0c
        case 0x14...0x17:
            // PEXTRB/PEXTRW/PEXTRD/PEXTRQ/EXTRACTPS r/m, xmm, imm8: sub = element size.
            ins.op = .sseExtract
            ins.sub = opcode == 0x14 ? 1 : (opcode == 0x15 ? 2 : (opcode == 0x16 && rexW ? 8 : 4))
        case 0x20, 0x22:
            // PINSRB/PINSRD/PINSRQ xmm, r/m, imm8.
            ins.op = .sseInsert; ins.sub = opcode == 0x20 ? 1 : (rexW ? 8 : 4)
        case 0x21:
            ins.op = .insertps
        case 0x60...0x63:
            // PCMPESTRM, PCMPESTRI, PCMPISTRM, PCMPISTRI (SSE4.2): sub bit 0 = index, bit 1 = implicit
            // lengths; REX.W makes the explicit lengths RAX/RDX.
            ins.op = .sseStringCompare; ins.sub = opcode - 0x60; ins.imm2 = rexW ? 1 : 0
        default:
            return undefined()
        }
        ins.imm = UInt64(try next())
    }
}
