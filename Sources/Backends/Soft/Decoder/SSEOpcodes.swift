import CHostX87

/// The SSE/SSE2 part of the 0F map that compiled code and OS context switches use (SDM vol. 2,
/// table A-3; the mandatory prefix 66/F2/F3 selects the instruction).
extension Decoder {
    /// `sseBinary` members, in `DecodedInstruction.sub`.
    enum SSEBinary {
        static let paddb: UInt8 = 0, paddw: UInt8 = 1, paddd: UInt8 = 2, paddq: UInt8 = 3
        static let psubb: UInt8 = 4, psubw: UInt8 = 5, psubd: UInt8 = 6, psubq: UInt8 = 7
        static let pminub: UInt8 = 8, pmaxub: UInt8 = 9
        static let pcmpeqb: UInt8 = 10, pcmpeqw: UInt8 = 11, pcmpeqd: UInt8 = 12
        static let pcmpgtb: UInt8 = 13, pcmpgtw: UInt8 = 14, pcmpgtd: UInt8 = 15
        static let and: UInt8 = 16, andn: UInt8 = 17, or: UInt8 = 18, xor: UInt8 = 19
        static let punpcklbw: UInt8 = 20, punpcklwd: UInt8 = 21, punpckldq: UInt8 = 22, punpcklqdq: UInt8 = 23
        static let punpckhbw: UInt8 = 24, punpckhwd: UInt8 = 25, punpckhdq: UInt8 = 26, punpckhqdq: UInt8 = 27
        static let paddusb: UInt8 = 28, paddusw: UInt8 = 29, paddsb: UInt8 = 30, paddsw: UInt8 = 31
        static let psubusb: UInt8 = 32, psubusw: UInt8 = 33, psubsb: UInt8 = 34, psubsw: UInt8 = 35
        static let pmullw: UInt8 = 36, pmulhw: UInt8 = 37, pmulhuw: UInt8 = 38, pmuludq: UInt8 = 39, pmaddwd: UInt8 = 40
        static let pmaxsw: UInt8 = 41, pminsw: UInt8 = 42, pavgb: UInt8 = 43, pavgw: UInt8 = 44, psadbw: UInt8 = 45
        static let packsswb: UInt8 = 46, packuswb: UInt8 = 47, packssdw: UInt8 = 48
        static let psllw: UInt8 = 49, pslld: UInt8 = 50, psllq: UInt8 = 51, psrlw: UInt8 = 52, psrld: UInt8 = 53
        static let psrlq: UInt8 = 54, psraw: UInt8 = 55, psrad: UInt8 = 56
    }

    /// The 66-prefixed xmm, xmm/m128 operations beyond the first table, by opcode.
    static func moreBinary(_ opcode: UInt8) -> UInt8? {
        switch opcode {
        case 0xdc: return SSEBinary.paddusb
        case 0xdd: return SSEBinary.paddusw
        case 0xec: return SSEBinary.paddsb
        case 0xed: return SSEBinary.paddsw
        case 0xd8: return SSEBinary.psubusb
        case 0xd9: return SSEBinary.psubusw
        case 0xe8: return SSEBinary.psubsb
        case 0xe9: return SSEBinary.psubsw
        case 0xd5: return SSEBinary.pmullw
        case 0xe5: return SSEBinary.pmulhw
        case 0xe4: return SSEBinary.pmulhuw
        case 0xf4: return SSEBinary.pmuludq
        case 0xf5: return SSEBinary.pmaddwd
        case 0xee: return SSEBinary.pmaxsw
        case 0xea: return SSEBinary.pminsw
        case 0xe0: return SSEBinary.pavgb
        case 0xe3: return SSEBinary.pavgw
        case 0xf6: return SSEBinary.psadbw
        case 0x63: return SSEBinary.packsswb
        case 0x67: return SSEBinary.packuswb
        case 0x6b: return SSEBinary.packssdw
        case 0xf1: return SSEBinary.psllw
        case 0xf2: return SSEBinary.pslld
        case 0xf3: return SSEBinary.psllq
        case 0xd1: return SSEBinary.psrlw
        case 0xd2: return SSEBinary.psrld
        case 0xd3: return SSEBinary.psrlq
        case 0xe1: return SSEBinary.psraw
        case 0xe2: return SSEBinary.psrad
        default: return nil
        }
    }

    mutating func decodeSSE(_ opcode: UInt8) throws(DecodeError) {
        let format = floatFormat(p66: operandSizeOverride, f3: repPrefix == 0xf3, f2: repPrefix == 0xf2)
        let p66 = operandSizeOverride, f3 = repPrefix == 0xf3, f2 = repPrefix == 0xf2
        // With a mandatory prefix, 66/F2/F3 are not size or repeat prefixes.
        ins.prefixes &= ~(DecodedInstruction.repz | DecodedInstruction.repnz)
        ins.size = 16
        switch opcode {
        case 0x77:
            guard !p66 && !f3 && !f2 else { return undefined() }
            ins.op = .x87Control; ins.sub = 8
        case 0x10, 0x11:
            let memory = try readModRM()
            if f3 || f2 {
                ins.size = f3 ? 4 : 8
                ins.op = opcode == 0x10 ? .sseScalarLoad : .sseScalarStore
                if !memory && opcode == 0x11 { swap(&ins.reg, &ins.rm); ins.op = .sseScalarLoad }
            } else {
                try sseMove(load: opcode == 0x10, memory: memory, aligned: false)
            }
        case 0x12 where f3 || f2, 0x16 where f3:
            // MOVSLDUP (F3 12), MOVSHDUP (F3 16), MOVDDUP (F2 12): SSE3.
            try readModRM()
            ins.op = .sseDuplicate; ins.sub = f2 ? 2 : (opcode == 0x16 ? 1 : 0)
        case 0x7c, 0x7d, 0xd0:
            // HADDPD/HADDPS, HSUBPD/HSUBPS, ADDSUBPD/ADDSUBPS (66 = pd, F2 = ps): SSE3.
            guard p66 || f2 else { return undefined() }
            try readModRM()
            let operation: Int32 = opcode == 0xd0 ? 0 : (opcode == 0x7c ? 1 : 2)
            hostSSE(HOST_SSE_HORIZONTAL + operation * 2 + (p66 ? 1 : 0), memoryBytes: 16)
        case 0xf0:
            // LDDQU xmm, m128 (F2): an unaligned load.
            guard f2, try readModRM() else { return undefined() }
            ins.op = .sseMoveLoad; ins.sub = 0
        case 0x12, 0x13, 0x16, 0x17:
            guard !f3 && !f2 else { return undefined() }
            let memory = try readModRM()
            let high = opcode >= 0x16, store = opcode & 1 != 0
            ins.op = .sseMoveLowHigh
            if memory {
                ins.sub = (high ? 2 : 0) + (store ? 1 : 0)
            } else {
                guard !store, !p66 else { return undefined() }
                ins.sub = high ? 5 : 4 // MOVLHPS / MOVHLPS
            }
            ins.size = 8
        case 0x28, 0x29:
            guard !f3 && !f2 else { return undefined() }
            let memory = try readModRM()
            try sseMove(load: opcode == 0x28, memory: memory, aligned: true)
        case 0x2b, 0xe7:
            guard !f3 && !f2, opcode == 0x2b || p66 else { return undefined() }
            guard try readModRM() else { return undefined() }
            ins.op = .sseMoveStore; ins.sub = 1
        case 0x51, 0x58, 0x59, 0x5c...0x5f:
            // SQRT, ADD, MUL, SUB, MIN, DIV, MAX.
            try readModRM()
            let operation: Int32 = opcode == 0x51 ? 0 : (opcode < 0x5c ? Int32(opcode) - 0x57 : Int32(opcode) - 0x59)
            hostSSE(HOST_SSE_ARITHMETIC + operation * 4 + Int32(format), memoryBytes: Self.floatOperandBytes(format))
        case 0xc2:
            // CMPPS, CMPPD, CMPSS, CMPSD: the predicate is imm8[2:0] (SDM vol. 2, CMPPS).
            try readModRM()
            let predicate = Int32(try next() & 7)
            hostSSE(HOST_SSE_COMPARE + Int32(format) * 8 + predicate, memoryBytes: Self.floatOperandBytes(format))
        case 0x2e, 0x2f:
            // UCOMISS, UCOMISD, COMISS, COMISD.
            guard !f3 && !f2 else { return undefined() }
            try readModRM()
            hostSSE(HOST_SSE_COMPARE_ORDERED + (opcode == 0x2f ? 2 : 0) + (p66 ? 1 : 0), memoryBytes: p66 ? 8 : 4,
                    result: CPUCore.SSEHostResult.flags)
        case 0x2a:
            // CVTSI2SS, CVTSI2SD xmm, r/m32/64 (the MMX forms are not implemented).
            guard f3 || f2 else { return undefined() }
            try readModRM()
            ins.size = rexW ? 8 : 4
            hostSSE(HOST_SSE_FROM_INTEGER + (f2 ? 2 : 0) + (rexW ? 1 : 0), memoryBytes: 0)
        case 0x2c, 0x2d:
            // CVTTSS2SI, CVTSS2SI, CVTTSD2SI, CVTSD2SI r32/64, xmm/m (the MMX forms are not implemented).
            guard f3 || f2 else { return undefined() }
            try readModRM()
            ins.size = rexW ? 8 : 4
            hostSSE(HOST_SSE_TO_INTEGER + (f2 ? 4 : 0) + (opcode == 0x2d ? 2 : 0) + (rexW ? 1 : 0), memoryBytes: f2 ? 8 : 4,
                    result: CPUCore.SSEHostResult.integer)
        case 0x5a:
            // CVTPS2PD (from an m64), CVTPD2PS, CVTSS2SD, CVTSD2SS.
            try readModRM()
            hostSSE(HOST_SSE_CONVERT_PRECISION + Int32(format), memoryBytes: format == 0 ? 8 : Self.floatOperandBytes(format))
        case 0x5b:
            // CVTDQ2PS, CVTPS2DQ (66), CVTTPS2DQ (F3).
            guard !f2 else { return undefined() }
            try readModRM()
            hostSSE(HOST_SSE_CONVERT_PACKED + Int32(format), memoryBytes: 16)
        case 0xe6:
            // CVTTPD2DQ (66), CVTDQ2PD (F3, from an m64), CVTPD2DQ (F2).
            guard p66 || f3 || f2 else { return undefined() }
            try readModRM()
            hostSSE(HOST_SSE_CONVERT_PACKED + 2 + Int32(format), memoryBytes: f3 ? 8 : 16)
        case 0x54...0x57:
            guard !f3 && !f2 else { return undefined() }
            try readModRM()
            ins.op = .sseBinary; ins.sub = SSEBinary.and + (opcode - 0x54)
        case 0x60...0x62, 0x68...0x6a, 0x6c, 0x6d, 0x64...0x66, 0x74...0x76, 0xd4, 0xda, 0xdb, 0xde, 0xdf,
             0xeb, 0xef, 0xf8...0xfe:
            guard p66, !f3, !f2 else { return undefined() }
            try readModRM()
            ins.op = .sseBinary
            switch opcode {
            case 0x60...0x62: ins.sub = SSEBinary.punpcklbw + (opcode - 0x60)
            case 0x68...0x6a: ins.sub = SSEBinary.punpckhbw + (opcode - 0x68)
            case 0x6c: ins.sub = SSEBinary.punpcklqdq
            case 0x6d: ins.sub = SSEBinary.punpckhqdq
            case 0x64...0x66: ins.sub = SSEBinary.pcmpgtb + (opcode - 0x64)
            case 0x74...0x76: ins.sub = SSEBinary.pcmpeqb + (opcode - 0x74)
            case 0xd4: ins.sub = SSEBinary.paddq
            case 0xda: ins.sub = SSEBinary.pminub
            case 0xde: ins.sub = SSEBinary.pmaxub
            case 0xdb: ins.sub = SSEBinary.and
            case 0xdf: ins.sub = SSEBinary.andn
            case 0xeb: ins.sub = SSEBinary.or
            case 0xef: ins.sub = SSEBinary.xor
            case 0xf8...0xfb: ins.sub = SSEBinary.psubb + (opcode - 0xf8)
            default: ins.sub = SSEBinary.paddb + (opcode - 0xfc)
            }
        case 0x6e:
            guard p66 else { return undefined() }
            try readModRM()
            ins.op = .movdToXMM; ins.size = rexW ? 8 : 4
        case 0x7e:
            if f3 {
                try readModRM()
                ins.op = .movqToXMM; ins.size = 8
            } else {
                guard p66 else { return undefined() }
                try readModRM()
                ins.op = .movdFromXMM; ins.size = rexW ? 8 : 4
            }
        case 0xd6:
            guard p66 else { return undefined() }
            try readModRM()
            ins.op = .movqStore; ins.size = 8
        case 0x6f, 0x7f:
            guard p66 || f3 else { return undefined() }
            let memory = try readModRM()
            try sseMove(load: opcode == 0x6f, memory: memory, aligned: p66)
        case 0xc6:
            guard !p66 && !f3 && !f2 else { return undefined() }
            try readModRM()
            ins.op = .sseShuffle; ins.sub = 3; ins.imm = UInt64(try next())
        case 0xc4:
            guard p66 else { return undefined() }
            try readModRM()
            ins.op = .pinsrw; ins.size = 2; ins.imm = UInt64(try next())
        case 0xc5:
            guard p66, try !readModRM() else { return undefined() }
            ins.op = .pextrw; ins.size = 4; ins.imm = UInt64(try next())
        case 0x70:
            guard p66 || f3 || f2 else { return undefined() }
            try readModRM()
            ins.op = .sseShuffle; ins.sub = p66 ? 0 : (f2 ? 1 : 2); ins.imm = UInt64(try next())
        case 0x71...0x73:
            guard p66, try !readModRM() else { return undefined() }
            let member = modrmReg
            let valid: Bool
            switch opcode {
            case 0x73: valid = member == 2 || member == 3 || member == 6 || member == 7
            default: valid = member == 2 || member == 4 || member == 6
            }
            guard valid else { return undefined() }
            ins.op = .sseShiftImm; ins.sub = (opcode - 0x71) * 8 + member; ins.imm = UInt64(try next())
        case 0xd7:
            guard p66, try !readModRM() else { return undefined() }
            ins.op = .pmovmskb
        default:
            guard p66, !f3, !f2, let operation = Self.moreBinary(opcode) else { return undefined() }
            try readModRM()
            ins.op = .sseBinary; ins.sub = operation
        }
    }

    /// The operand format a mandatory prefix selects: 0 packed single, 1 packed double, 2 scalar single,
    /// 3 scalar double (the order of CHostSSE.h's stubs).
    private func floatFormat(p66: Bool, f3: Bool, f2: Bool) -> UInt8 {
        f3 ? 2 : (f2 ? 3 : (p66 ? 1 : 0))
    }

    /// The bytes a memory operand of `format` has: an aligned m128 for packed forms, m32 or m64 for
    /// scalar ones.
    static func floatOperandBytes(_ format: UInt8) -> UInt16 {
        format == 2 ? 4 : (format == 3 ? 8 : 16)
    }

    /// An instruction the host's SSE unit executes (FPU-SSE/SSEHostExecution.swift).
    mutating func hostSSE(_ stub: Int32, memoryBytes: UInt16, result: UInt8 = CPUCore.SSEHostResult.vector) {
        ins.op = .sseHost; ins.imm = UInt64(stub); ins.imm2 = memoryBytes; ins.sub = result
    }

    /// MOVUPS/MOVAPS/MOVDQA/MOVDQU loads and stores; a register-to-register move is one handler with
    /// the destination in `reg` (store encodings swap their operands).
    private mutating func sseMove(load: Bool, memory: Bool, aligned: Bool) throws(DecodeError) {
        ins.sub = aligned ? 1 : 0
        if memory {
            ins.op = load ? .sseMoveLoad : .sseMoveStore
        } else {
            ins.op = .sseMoveRegReg
            if !load { swap(&ins.reg, &ins.rm) }
        }
    }
}
