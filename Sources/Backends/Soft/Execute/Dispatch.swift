/// The per-instruction dispatch: one switch over the handler chosen at decode time. Swift compiles it
/// to a jump table; hot handlers are inlined into it. Returns how many block entries were consumed: 2
/// for a fused compare-and-branch, else 1.
extension CPUCore {
    /// Transparent rather than `@inline(__always)`: the optimizer stops honouring the latter once the
    /// execution loop grows, and an out-of-line dispatch costs a call and a frame per instruction.
    @_transparent
    mutating func execute(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) -> Int {
        switch ins.pointee.op {
        case .aluRegRegBranch:
            aluRegReg(ins, kind: ins.pointee.sub)
            return fusedBranch(ins)
        case .aluRegImmBranch:
            aluRegImm(ins, kind: ins.pointee.sub)
            return fusedBranch(ins)
        case .aluRegMemBranch:
            try aluRegMem(ins, kind: ins.pointee.sub)
            return fusedBranch(ins)
        case .aluMemImmBranch:
            try aluMemImm(ins, kind: ins.pointee.sub)
            return fusedBranch(ins)
        case .cmpRegRegBranch:
            aluRegReg(ins, kind: ALUKind.cmp, wide: true)
            return fusedBranch(ins)
        case .testRegRegBranch:
            aluRegReg(ins, kind: ALUKind.test, wide: true)
            return fusedBranch(ins)
        case .cmpRegImmBranch:
            aluRegImm(ins, kind: ALUKind.cmp, wide: true)
            return fusedBranch(ins)
        case .subRegImmBranch:
            aluRegImm(ins, kind: ALUKind.sub, wide: true)
            return fusedBranch(ins)
        case .cmpRegMemBranch:
            try aluRegMem(ins, kind: ALUKind.cmp, wide: true)
            return fusedBranch(ins)
        case .cmpMemImmBranch:
            try aluMemImm(ins, kind: ALUKind.cmp)
            return fusedBranch(ins)
        case .aluRegReg: aluRegReg(ins, kind: ins.pointee.sub)
        case .aluRegMem: try aluRegMem(ins, kind: ins.pointee.sub)
        case .aluMemReg: try aluMemReg(ins)
        case .aluRegImm: aluRegImm(ins, kind: ins.pointee.sub)
        case .aluMemImm: try aluMemImm(ins, kind: ins.pointee.sub)
        case .addRegReg: aluRegReg(ins, kind: ALUKind.add, wide: true)
        case .subRegReg: aluRegReg(ins, kind: ALUKind.sub, wide: true)
        case .xorRegReg: aluRegReg(ins, kind: ALUKind.xor, wide: true)
        case .addRegImm: aluRegImm(ins, kind: ALUKind.add, wide: true)
        case .subRegImm: aluRegImm(ins, kind: ALUKind.sub, wide: true)
        case .andRegImm: aluRegImm(ins, kind: ALUKind.and, wide: true)
        case .addRegMem: try aluRegMem(ins, kind: ALUKind.add, wide: true)
        case .xorRegMem: try aluRegMem(ins, kind: ALUKind.xor, wide: true)
        case .cmpMemImm: try aluMemImm(ins, kind: ALUKind.cmp)
        case .movRegReg: movRegReg(ins)
        case .movRegMem: try movRegMem(ins)
        case .movMemReg: try movMemReg(ins)
        case .movRegImm: setRegister(ins.pointee.rm, ins.pointee.size, ins.pointee.imm)
        case .movMemImm: try writeMemory(ins, ins.pointee.size, ins.pointee.imm)
        case .lea: setRegister(ins.pointee.reg, ins.pointee.size, effectiveAddress(ins))
        case .jcc: jcc(ins)
        case .jmpRel: jmpRel(ins)
        case .callRel: try callRel(ins)
        case .ret: try ret(ins)
        case .pushReg: try push(register(ins.pointee.rm, ins.pointee.size), ins.pointee.size)
        case .popReg:
            let value = try pop(ins.pointee.size)
            setRegister(ins.pointee.rm, ins.pointee.size, value)
        case .pushImm: try push(ins.pointee.imm, ins.pointee.size)
        case .unaryReg: unaryReg(ins)
        case .unaryMem: try unaryMem(ins)
        case .movzx: try movzx(ins, signed: false)
        case .movsx: try movzx(ins, signed: true)
        case .movzxByteReg: try zeroExtend(ins, from: 1, memory: false)
        case .movzxByteMem: try zeroExtend(ins, from: 1, memory: true)
        case .movzxWordReg: try zeroExtend(ins, from: 2, memory: false)
        case .movzxWordMem: try zeroExtend(ins, from: 2, memory: true)
        case .movsxd: try movsxd(ins)
        case .shiftRegisterImmediate: shiftRegisterImmediate(ins)
        case .shift: try shift(ins)
        case .setcc: try setcc(ins)
        case .cmovcc: try cmovcc(ins)
        case .nop: break
        default: try executeLessCommon(ins)
        }
        return 1
    }

    @inline(never)
    mutating func executeLessCommon(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        switch i.op {
        case .lockedALUReg: try lockedALU(ins, immediate: false)
        case .lockedALUImm: try lockedALU(ins, immediate: true)
        case .movRegSeg: setRegister(i.rm, i.size, UInt64(segments[Int(i.reg)].selector))
        case .movMemSeg: try writeMemory(ins, 2, UInt64(segments[Int(i.reg)].selector))
        case .movSegRM: try loadSegment(Int(i.reg), UInt16(truncatingIfNeeded: try readRM(ins, 2)))
        case .movbeLoad: try movbe(ins, load: true)
        case .movbeStore: try movbe(ins, load: false)
        case .xchgRegReg, .xchgMemReg: try xchg(ins)
        case .xaddRegReg, .xaddMemReg: try xadd(ins)
        case .cmpxchg: try cmpxchg(ins)
        case .cmpxchgWide: try cmpxchgWide(ins)
        case .bswap: bswap(ins)
        case .cbw: cbw(i.size)
        case .cwd: cwd(i.size)
        case .lahf: lahf()
        case .sahf: sahf()
        case .xlat: try xlat(ins)
        case .salc: setRegister(0, 1, flags.cf ? 0xff : 0)
        case .decimalAdjust: try decimalAdjust(ins)
        case .bound: try bound(ins)
        case .shiftDouble: try shiftDouble(ins)
        case .mulDiv: try mulDiv(ins)
        case .imulRegRM: try imulTwoOperand(ins, immediate: false)
        case .imulRegRMImm: try imulTwoOperand(ins, immediate: true)
        case .bitTestReg: try bitTestRegister(ins)
        case .bitTestImm: try bitTestImmediate(ins)
        case .bitScanForward: try bitScan(ins, reverse: false)
        case .bitScanReverse: try bitScan(ins, reverse: true)
        case .tzcnt: try countZeros(ins, leading: false)
        case .lzcnt: try countZeros(ins, leading: true)
        case .popcnt: try popcnt(ins)
        case .jcxz: jcxz(ins)
        case .loop: loop(ins)
        case .jmpIndirect: try jmpIndirect(ins)
        case .callIndirect: try callIndirect(ins)
        case .jmpFar: try farJump(i.imm2, i.imm, i.size)
        case .callFar: try farCall(i.imm2, i.imm, i.size)
        case .jmpFarIndirect: try farIndirect(ins, call: false)
        case .callFarIndirect: try farIndirect(ins, call: true)
        case .retFar: try farReturn(ins)
        case .iret: try interruptReturn(i.size)
        case .int: try softwareInterrupt(UInt8(truncatingIfNeeded: i.imm))
        case .int3:
            rip = nextRip
            throw Fault(Fault.breakpoint)
        case .into:
            if flags.of {
                rip = nextRip
                throw Fault(Fault.overflow)
            }
        case .int1:
            rip = nextRip
            throw Fault(Fault.debug)
        case .syscall: try syscall()
        case .sysret: try sysret(i.size)
        case .sysenter: try sysenter()
        case .sysexit: try sysexit(i.size)
        case .pushMem: try push(try readMemory(ins, i.size), i.size)
        case .popMem: try popMemory(ins)
        case .pushSeg: try push(UInt64(segments[Int(i.sub)].selector), i.size)
        case .popSeg:
            let selector = try read(Segment.ss, gpr[4] & stackMask, i.size)
            try loadSegment(Int(i.sub), UInt16(truncatingIfNeeded: selector))
            _ = try pop(i.size)
        case .pusha: try pusha(i.size)
        case .popa: try popa(i.size)
        case .pushf: try pushf(i.size)
        case .popf: try popf(i.size)
        case .enter: try enter(ins)
        case .leave: try leave(i.size)
        case .string: try string(ins)
        case .flagOp: try flagOp(i.sub)
        case .io: try io(ins)
        case .hlt:
            try requireCPL0()
            halted = true
            breakBlock = true
        case .cpuid: cpuid()
        case .rdtsc: try rdtsc(withAux: false)
        case .rdtscp: try rdtsc(withAux: true)
        case .rdmsr: try rdmsr()
        case .wrmsr: try wrmsr()
        case .rdpmc: try rdpmc()
        case .movFromCR: try moveFromControlRegister(ins)
        case .movToCR: try moveToControlRegister(ins)
        case .movFromDR: try moveFromDebugRegister(ins)
        case .movToDR: try moveToDebugRegister(ins)
        case .invlpg:
            try requireCPL0()
            tlb.flushPage((segmentBase[Int(i.segment)] &+ effectiveAddress(ins)) & linearMask)
            selectBlockEpoch() // the flush renewed every TLB set's generation
            breakBlock = true // the running block's own translation may be the one dropped
        case .clts: try clts()
        case .lgdt: try loadTableRegister(ins, interrupt: false)
        case .lidt: try loadTableRegister(ins, interrupt: true)
        case .sgdt: try storeTableRegister(ins, interrupt: false)
        case .sidt: try storeTableRegister(ins, interrupt: true)
        case .lldt: try lldt(ins)
        case .ltr: try ltr(ins)
        case .sldt: try storeSystemSelector(ins, task: false)
        case .str: try storeSystemSelector(ins, task: true)
        case .lmsw: try lmsw(ins)
        case .smsw: try smsw(ins)
        case .lar, .lsl, .verr, .verw: try inspectSelector(ins)
        case .swapgs: try swapgs()
        case .hypercall: hypercall()
        case .xgetbv: try xgetbv()
        case .xsetbv: try xsetbv()
        case .wbinvd: try requireCPL0()
        case .loadFarPointer: try loadFarPointer(ins)
        case .x87Control: try x87Control(ins)
        case .x87Environment: try x87Environment(ins)
        case .x87Host: try x87Host(ins)
        case .fxsave: try fxsave(ins)
        case .fxrstor: try fxrstor(ins)
        case .xsave: try xsave(ins)
        case .xrstor: try xrstor(ins)
        case .ldmxcsr: try ldmxcsr(ins)
        case .stmxcsr: try stmxcsr(ins)
        case .sseMoveLoad, .sseMoveStore, .sseMoveRegReg: try sseMove(ins)
        case .sseScalarLoad, .sseScalarStore: try sseScalar(ins)
        case .sseMoveLowHigh: try sseMoveLowHigh(ins)
        case .movdToXMM: try movdToXMM(ins)
        case .movdFromXMM: try movdFromXMM(ins)
        case .movqToXMM: try movqToXMM(ins)
        case .movqStore: try movqStore(ins)
        case .sseBinary: try sseBinary(ins)
        case .sseBinaryImmediate: try sseBinaryImmediate(ins)
        case .sseBlendVariable: try sseBlendVariable(ins)
        case .ptest: try ptest(ins)
        case .ssePackedExtend: try ssePackedExtend(ins)
        case .sseExtract: try sseExtract(ins)
        case .sseInsert: try sseInsert(ins)
        case .insertps: try insertps(ins)
        case .crc32: try crc32(ins)
        case .sseStringCompare: try sseStringCompare(ins)
        case .sseHost: try sseHost(ins)
        case .sseDuplicate: try sseDuplicate(ins)
        case .sseShuffle: try sseShuffle(ins)
        case .sseShiftImm: try sseShiftImmediate(ins)
        case .pmovmskb: try pmovmskb(ins)
        case .pextrw: try pextrw(ins)
        case .pinsrw: try pinsrw(ins)
        case .ud2: throw Fault.ud
        case .undefined:
            UnimplementedOpcodeLog.report(bytes: i.opcodeBytes, rip: rip)
            throw Fault.ud
        default:
            // Every op above is handled in `execute`; reaching here would be a decoder bug.
            throw Fault.ud
        }
    }

    /// INT n: delivered at once with the return address after the instruction.
    mutating func softwareInterrupt(_ vector: UInt8) throws(Fault) {
        if v86Mode && iopl < 3 { throw Fault.gp() }
        try deliver(vector: vector, errorCode: nil, source: .software, returnRip: nextRip)
        nextRip = rip
    }
}
