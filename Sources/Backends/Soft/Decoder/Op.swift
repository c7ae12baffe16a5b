/// The execution handlers, one per decoded form. `DecodedInstruction.sub` selects the variant inside a
/// family (ALU kind, condition code, ...).
enum Op: UInt16 {
    case undefined
    // integer ALU: sub = 0 add, 1 or, 2 adc, 3 sbb, 4 and, 5 sub, 6 xor, 7 cmp, 8 test
    case aluRegReg, aluRegMem, aluMemReg, aluRegImm, aluMemImm, lockedALUReg, lockedALUImm
    // moves
    case movRegReg, movRegMem, movMemReg, movRegImm, movMemImm
    case movRegSeg, movMemSeg, movSegRM, lea
    case movzx, movsx, movsxd, movbeLoad, movbeStore
    case xchgRegReg, xchgMemReg, xaddRegReg, xaddMemReg, cmpxchg, cmpxchgWide, bswap
    case cbw, cwd, lahf, sahf, xlat, salc
    // decimal adjust: sub = 0 daa, 1 das, 2 aaa, 3 aas, 4 aam, 5 aad (imm = base)
    case decimalAdjust, bound
    // unary: sub = 0 inc, 1 dec, 2 not, 3 neg
    case unaryReg, unaryMem
    // shifts: sub = kind (rol ror rcl rcr shl shr sal sar); imm = count, or 0xff for CL
    case shift, shiftDouble
    // SHL/SAL/SHR/SAR of a register by an immediate (count already masked): the common compiled form
    case shiftRegisterImmediate
    // multiply/divide group 3: sub = 4 mul, 5 imul, 6 div, 7 idiv
    case mulDiv, imulRegRM, imulRegRMImm
    // bits
    case bitTestReg, bitTestImm, bitScanForward, bitScanReverse, tzcnt, lzcnt, popcnt
    // conditionals
    case jcc, setcc, cmovcc, jcxz, loop
    // An ALU instruction fused with the Jcc right after it (see `BlockDecoder`, `FusedBranches.swift`)
    case aluRegRegBranch, aluRegImmBranch, aluRegMemBranch, aluMemImmBranch
    // Dedicated handlers for the hottest ALU forms, plain and fused (see `SpecialisedForms.swift`)
    case addRegReg, subRegReg, xorRegReg, addRegImm, subRegImm, andRegImm, addRegMem, xorRegMem, cmpMemImm
    case cmpRegRegBranch, testRegRegBranch, cmpRegImmBranch, subRegImmBranch, cmpRegMemBranch, cmpMemImmBranch
    // Dedicated MOVZX handlers by source size and kind, for 4/8-byte destinations
    case movzxByteReg, movzxByteMem, movzxWordReg, movzxWordMem
    // control transfer
    case jmpRel, callRel, jmpIndirect, callIndirect, ret, jmpFar, callFar, jmpFarIndirect, callFarIndirect
    case retFar, iret, int, int3, into, int1, syscall, sysret, sysenter, sysexit
    // stack
    case pushReg, popReg, pushImm, pushMem, popMem, pushSeg, popSeg, pusha, popa, pushf, popf, enter, leave
    // strings: sub = 0 movs, 1 cmps, 2 stos, 3 lods, 4 scas, 5 ins, 6 outs
    case string
    // flags: sub = 0 clc, 1 stc, 2 cmc, 3 cld, 4 std, 5 cli, 6 sti
    case flagOp
    // port I/O: sub bit 0 = out, bit 1 = port in DX
    case io
    // system
    case nop, hlt, cpuid, rdtsc, rdtscp, rdmsr, wrmsr, rdpmc, movFromCR, movToCR, movFromDR, movToDR
    case invlpg, clts, lgdt, lidt, sgdt, sidt, lldt, ltr, sldt, str, lmsw, smsw, lar, lsl, verr, verw
    case swapgs, xgetbv, xsetbv, wbinvd, loadFarPointer, ud2, hypercall
    // x87 control: sub = 0 fninit, 1 fnstsw ax, 2 fnstsw m16, 3 fnstcw, 4 fldcw, 5 fnclex, 6 fwait,
    // 8 emms
    case x87Control
    // x87 environment: sub = 0 fldenv, 1 fnstenv, 2 frstor, 3 fnsave; size = operand size
    case x87Environment
    // x87 data instructions run on the host's x87 unit: imm = stub | FOP << 16, imm2 = memory
    // operand bytes (0: register form), sub = 0 read, 1 write (see FPU-SSE/X87HostExecution.swift)
    case x87Host
    // SSE state
    case fxsave, fxrstor, xsave, xrstor, ldmxcsr, stmxcsr
    // SSE data: see Execute/SSE*.swift
    case sseMoveLoad, sseMoveStore, sseMoveRegReg, sseScalarLoad, sseScalarStore, sseMoveLowHigh
    case movdToXMM, movdFromXMM, movqToXMM, movqStore
    case sseBinary, sseShuffle, sseShiftImm, pmovmskb, pextrw, pinsrw
    // SSSE3/SSE4.1 beyond `sseBinary`: see FPU-SSE/SSE4Integer.swift; CRC32 (SSE4.2) in Execute/Integer
    case sseBinaryImmediate, sseBlendVariable, ptest, ssePackedExtend, sseExtract, sseInsert, insertps, crc32
    // PCMPESTRI/M, PCMPISTRI/M: see FPU-SSE/SSE42StringCompare.swift
    case sseStringCompare
    // SSE/SSE2/SSE3/SSE4.1 floating point, run on the host's SSE unit: imm = stub, sub = result
    // kind, imm2 = memory source bytes (see FPU-SSE/SSEHostExecution.swift)
    case sseHost
    // SSE3's MOVSLDUP, MOVSHDUP, MOVDDUP: see FPU-SSE/SSE3Duplicates.swift
    case sseDuplicate
}

extension Op {
    /// The fused compare-and-branch form of an ALU op, for the ALU forms worth fusing.
    var fusedWithBranch: Op? {
        switch generic {
        case .aluRegReg: return .aluRegRegBranch
        case .aluRegImm: return .aluRegImmBranch
        case .aluRegMem: return .aluRegMemBranch
        case .aluMemImm: return .aluMemImmBranch
        default: return nil
        }
    }

    /// A fused entry: it stands for two instructions.
    var isFusedBranch: Bool {
        switch generic {
        case .aluRegRegBranch, .aluRegImmBranch, .aluRegMemBranch, .aluMemImmBranch: return true
        default: return false
        }
    }
}
