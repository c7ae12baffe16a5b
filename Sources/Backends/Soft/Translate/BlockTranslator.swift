/// Turns a decoded block of 64-bit or 32-bit code into host x86-64 code (SOFT-CPU.md: "a JIT for hot
/// blocks").
///
/// Guest and host are the same architecture, so each guest instruction becomes the same host
/// instruction with host registers in place of guest ones (32-bit code included: its instructions
/// mean in 64-bit mode what they mean in 32-bit mode, SDM vol. 1, 3.2.1, once addresses are formed
/// as 32-bit code forms them, `TranslatedMemoryAccess.swift`), and RFLAGS are computed by the host exactly
/// as the hardware the differential tests use as oracle computes them, the undefined bits included.
/// What the host cannot do for us is translate addresses: every memory operand goes through the
/// software TLB inline (the compare-and-add of QEMU's softmmu); a miss calls a page-walk helper, and
/// what that cannot serve (MMIO, faults, writes to code) leaves for the interpreter.
///
/// Shape of the code for one block:
/// - the body, one host sequence per guest instruction, with a taken Jcc jumping to an exit stub or,
///   when it targets the block's own start, to a back edge that loops without leaving;
/// - the exit stubs, each loading RCX = guest RIP and EDX = instructions retired in this pass, then
///   going on to the chain dispatch (`BlockChaining.swift`), or, for an instruction only the
///   interpreter can finish, to the epilogue with EAX = `NativeExit.interpret`;
/// - the chain dispatch, which continues into the next translated block when the jump cache knows it;
/// - the epilogue: saves RFLAGS, the exit RIP and the retired count to the frame, stores the guest
///   registers back and returns;
/// - the entry (prologue): saves host registers and loads the guest's arithmetic flags; then the
///   chain entry, where other blocks come in, loads the guest registers the block uses and jumps to
///   the body.
///
/// Registers: R15 holds the guest GPR array, R14 the `NativeFrame`; RAX, RCX, RDX and R11 are
/// scratch (RAX holds the guest flags in LAHF/SETO form around a TLB check); the other nine are
/// given to guest registers in the order the block first uses them. An instruction needing a tenth
/// guest register ends the translation there.
struct BlockTranslator {
    struct Translation {
        let entry: UnsafeRawPointer
        /// Where another translated block continues into this one (`BlockChaining.swift`).
        let chainEntry: UnsafeRawPointer
        /// The most guest instructions one pass through the block retires.
        let passLength: Int
        let bytes: Int
        let assumptions: TranslationAssumptions
    }

    /// Fewer instructions than this in front of an untranslatable one are not worth a native call.
    static let minimumPrefix = 3
    private static let pool: [UInt8] = [HostRegister.rbx, HostRegister.rbp, HostRegister.rsi, HostRegister.rdi,
                                        HostRegister.r8, HostRegister.r9, HostRegister.r10, HostRegister.r12,
                                        HostRegister.r13]
    private static let calleeSaved: [UInt8] = [HostRegister.rbx, HostRegister.rbp, HostRegister.r12,
                                               HostRegister.r13, HostRegister.r14, HostRegister.r15]
    static let context = HostRegister.r14, registers = HostRegister.r15
    /// The arithmetic flags in RFLAGS (SDM vol. 1, 3.4.3): CF, PF, AF, ZF, SF, OF.
    static let arithmeticFlags: Int32 = 0x8d5

    enum Stub {
        case exit(label: Int, rip: UInt64, retired: Int, kind: NativeExit, restoreFlags: Bool)
        case backEdge(label: Int, retired: Int)
        /// A TLB miss: call the refill helper, then resume the access or leave through `exit`.
        case refill(label: Int, resume: Int, exit: Int, size: UInt8, write: Bool)
    }

    var assembler: HostAssembler
    /// Host register of each guest register, or `unmapped`.
    private(set) var hostOf = [UInt8](repeating: BlockTranslator.unmapped, count: 16)
    private(set) var mapped: [UInt8] = []
    private static let unmapped: UInt8 = 0xff
    var stubs: [Stub] = []
    /// For 32-bit code, the segment registers as they are while translating; nil for 64-bit code.
    let segments: TranslationAssumptions?
    /// Whether SSE instructions may be translated (their #UD and #NM checks pass now).
    let sseUsable: Bool
    /// What of the shape the code relies on.
    var assumed = TranslationAssumptions()
    let startRip: UInt64
    let head: Int, epilogue: Int, chain: Int, chainEntry: Int
    /// Guest instructions translated so far in one pass.
    var retired = 0

    init(buffer: UnsafeMutablePointer<UInt8>, capacity: Int, rip: UInt64, shape: TranslationAssumptions, legacyCode: Bool) {
        assembler = HostAssembler(start: buffer, capacity: capacity)
        startRip = rip
        segments = legacyCode ? shape : nil
        sseUsable = shape.contains(.sseUsable)
        head = assembler.newLabel()
        epilogue = assembler.newLabel()
        chain = assembler.newLabel()
        chainEntry = assembler.newLabel()
    }

    /// Translates as much of the block as it can; nil when too little of it is translatable.
    /// `shape`: the mode now (`CPUCore.translationShape`); `legacyCode`: 32-bit code, not 64-bit.
    static func translate(_ block: UnsafePointer<DecodedInstruction>, count: Int, rip: UInt64,
                          shape: TranslationAssumptions, legacyCode: Bool, into memory: inout ExecutableMemory) -> Translation? {
        guard let start = memory.start else { return nil }
        let buffer = start + memory.used
        var translator = BlockTranslator(buffer: buffer, capacity: memory.free, rip: rip, shape: shape, legacyCode: legacyCode)
        guard let offsets = translator.translateBody(block, count: count) else { return nil }
        memory.used += translator.assembler.offset
        return Translation(entry: UnsafeRawPointer(buffer + offsets.entry), chainEntry: UnsafeRawPointer(buffer + offsets.chainEntry),
                           passLength: translator.retired, bytes: translator.assembler.offset, assumptions: translator.assumed)
    }

    /// Body, stubs, epilogue and entries; returns the entries' offsets.
    private mutating func translateBody(_ block: UnsafePointer<DecodedInstruction>, count: Int) -> (entry: Int, chainEntry: Int)? {
        assembler.bind(head)
        var index = 0, rip = startRip, ended = false
        while index < count && !ended {
            let entry = block[index]
            let mark = (assembler.mark, stubs.count, hostOf, mapped, retired, assumed)
            var consumed = 1
            var translated = true
            if entry.op.isFusedBranch, index + 1 < count {
                let branch = block[index + 1]
                var alu = entry
                alu.op = entry.op.unfused
                alu.length = entry.length &- branch.length
                let branchRip = rip &+ UInt64(alu.length)
                translated = translate(alu, rip: rip, next: branchRip)
                if translated {
                    retired += 1
                    conditionalBranch(branch, rip: branchRip)
                    consumed = 2
                }
            } else if entry.op == .jcc {
                conditionalBranch(entry, rip: rip)
            } else if entry.op == .jmpRel {
                retired += 1
                leave(to: (rip &+ UInt64(entry.length) &+ entry.imm) & entry.mask)
                ended = true
            } else if entry.op == .callRel || entry.op == .ret {
                translated = entry.op == .callRel ? call(entry, rip: rip) : returnFromCall(entry, rip: rip)
                ended = translated
            } else {
                translated = translate(entry, rip: rip, next: rip &+ UInt64(entry.length))
                if translated { retired += 1 }
            }
            guard translated else {
                stubs.removeLast(stubs.count - mark.1)
                (hostOf, mapped, retired, assumed) = (mark.2, mark.3, mark.4, mark.5)
                assembler.rewind(to: mark.0)
                break
            }
            index += consumed
            rip &+= UInt64(entry.length)
        }
        guard retired > 0, index == count || ended || retired >= Self.minimumPrefix else { return nil }
        if !ended { leave(to: rip) }
        emitStubs()
        emitChainDispatch()
        emitEpilogue()
        let entryOffset = assembler.offset
        emitEntry()
        guard assembler.resolve() else { return nil }
        return (entryOffset, assembler.offset(of: chainEntry))
    }

    // MARK: guest registers

    /// The host register standing for guest register `guest` (0-15), assigning one on first use; nil
    /// for AH..BH (16-19) or when all nine are taken.
    mutating func host(_ guest: UInt8) -> UInt8? {
        guard guest < 16 else { return nil }
        if hostOf[Int(guest)] != Self.unmapped { return hostOf[Int(guest)] }
        guard mapped.count < Self.pool.count else { return nil }
        let register = Self.pool[mapped.count]
        hostOf[Int(guest)] = register
        mapped.append(guest)
        return register
    }

    // MARK: control flow

    /// A Jcc inside the block: taken, it loops back (its target is the block's start) or leaves.
    private mutating func conditionalBranch(_ branch: DecodedInstruction, rip: UInt64) {
        retired += 1
        let target = (rip &+ UInt64(branch.length) &+ branch.imm) & branch.mask
        let label = assembler.newLabel()
        if target == startRip {
            stubs.append(.backEdge(label: label, retired: retired))
        } else {
            stubs.append(.exit(label: label, rip: target, retired: retired, kind: .next, restoreFlags: false))
        }
        assembler.jump(if: branch.sub, to: label)
    }

    /// The end of the body: back to the start, or out to `target`.
    private mutating func leave(to target: UInt64) {
        let label = assembler.newLabel()
        if target == startRip {
            stubs.append(.backEdge(label: label, retired: retired))
        } else {
            stubs.append(.exit(label: label, rip: target, retired: retired, kind: .next, restoreFlags: false))
        }
        assembler.jump(to: label)
    }

    /// CALL rel32: pushes the return address, then leaves for the target like a JMP.
    private mutating func call(_ ins: DecodedInstruction, rip: UInt64) -> Bool {
        let returnAddress = rip &+ UInt64(ins.length), width = stackWidth
        guard ins.size == width, let stackPointer = host(4),
              let slot = stackSlot(offset: -Int32(width), size: width, write: true, rip: rip) else { return false }
        assembler.move(HostRegister.r11, immediate: returnAddress & ins.mask)
        assembler.store(slot, HostRegister.r11, size: width)
        assembler.instruction(0x8d, size: width, reg: stackPointer, .at(stackPointer, -Int32(width)))
        retired += 1
        leave(to: (returnAddress &+ ins.imm) & ins.mask)
        return true
    }

    /// RET and RET imm16: pops the return address and leaves for it, wherever it is. (Like the
    /// interpreter, a non-canonical address faults when it is fetched.)
    private mutating func returnFromCall(_ ins: DecodedInstruction, rip: UInt64) -> Bool {
        let width = stackWidth
        guard ins.size == width, let stackPointer = host(4),
              let slot = stackSlot(offset: 0, size: width, write: false, rip: rip) else { return false }
        assembler.load(HostRegister.r11, slot, size: width)
        assembler.instruction(0x8d, size: width, reg: stackPointer,
                              .at(stackPointer, Int32(width) + Int32(truncatingIfNeeded: ins.imm & 0xffff)))
        retired += 1
        assembler.instruction(0x89, size: 8, reg: HostRegister.r11, .register(HostRegister.rcx))
        exitWithRIPInRCX(retired: retired, kind: .next)
        return true
    }

    /// An exit taken from inside an instruction whose memory operand missed the TLB: the flags saved
    /// in AH/AL are put back first.
    mutating func missExit(rip: UInt64) -> Int {
        let label = assembler.newLabel()
        stubs.append(.exit(label: label, rip: rip, retired: retired, kind: .interpret, restoreFlags: true))
        return label
    }

    /// Back edges add a stub of their own while being emitted, hence the index.
    private mutating func emitStubs() {
        var index = 0
        while index < stubs.count {
            let stub = stubs[index]
            index += 1
            switch stub {
            case let .exit(label, rip, retired, kind, restoreFlags):
                assembler.bind(label)
                if restoreFlags { restoreFlagsFromRAX() }
                exit(rip: rip, retired: retired, kind: kind)
            case let .backEdge(label, retired):
                assembler.bind(label)
                backEdge(retired: retired)
            case let .refill(label, resume, exit, size, write):
                assembler.bind(label)
                refillCall(resume: resume, exit: exit, size: size, write: write)
            }
        }
    }

    /// RCX = RIP, EDX = retired, EAX = kind, to the epilogue. MOVs leave the guest flags alone.
    private mutating func exit(rip: UInt64, retired: Int, kind: NativeExit) {
        assembler.move(HostRegister.rcx, immediate: rip)
        exitWithRIPInRCX(retired: retired, kind: kind)
    }

    /// A `.next` exit goes on to the next block through the chain dispatch when it can.
    private mutating func exitWithRIPInRCX(retired: Int, kind: NativeExit) {
        assembler.move(HostRegister.rdx, immediate: UInt64(retired), size: 4)
        if kind == .next {
            assembler.jump(to: chain)
            return
        }
        assembler.move(HostRegister.rax, immediate: UInt64(kind.rawValue), size: 4)
        assembler.jump(to: epilogue)
    }

    /// Going round again: count the pass, leave if kicked or if the budget holds no further pass
    /// (`NativeFrame.passesLeft`), else jump to the start. Only MOV, LEA and JRCXZ, which leave RFLAGS
    /// alone: the guest's flags are live here.
    private mutating func backEdge(retired: Int) {
        let frame = Self.context
        assembler.load(HostRegister.r11, .at(frame, NativeFrame.retired))
        assembler.instruction(0x8d, size: 8, reg: HostRegister.r11, .at(HostRegister.r11, Int32(retired)))
        assembler.store(.at(frame, NativeFrame.retired), HostRegister.r11)
        let out = assembler.newLabel()
        stubs.append(.exit(label: out, rip: startRip, retired: 0, kind: .next, restoreFlags: false))
        takePass(continuingAt: head, orLeavingTo: out)
    }

    /// Leaves for `leave` if the vCPU was kicked or the budget holds no further pass
    /// (`NativeFrame.passesLeft`, shared by back edges and chained blocks); otherwise takes one pass
    /// and jumps to `next`. MOV, MOVZX, LEA and JRCXZ only (SDM vol. 2, Jcc: JRCXZ reads no flags), as
    /// the guest's flags are live in RFLAGS. Uses RCX.
    mutating func takePass(continuingAt next: Int, orLeavingTo leave: Int) {
        let frame = Self.context, rcx = HostRegister.rcx
        assembler.load(rcx, .at(frame, NativeFrame.kickFlag))
        assembler.instruction(0xb60f, size: 4, reg: rcx, .at(rcx)) // MOVZX ECX, BYTE [RCX]
        let notKicked = assembler.jumpIfRCXZero()
        assembler.jump(to: leave)
        assembler.bindShortJump(notKicked)
        assembler.load(rcx, .at(frame, NativeFrame.passesLeft))
        let noPassLeft = assembler.jumpIfRCXZero()
        assembler.instruction(0x8d, size: 8, reg: rcx, .at(rcx, -1))
        assembler.store(.at(frame, NativeFrame.passesLeft), rcx)
        assembler.jump(to: next)
        assembler.bindShortJump(noPassLeft)
        assembler.jump(to: leave)
    }

    // MARK: flags around TLB checks

    /// LAHF keeps SF, ZF, AF, PF and CF in AH; SETO keeps OF in AL (SDM vol. 2, LAHF and SETcc).
    mutating func saveFlagsInRAX() {
        assembler.byte(0x9f)
        assembler.byte(0x0f); assembler.byte(0x90); assembler.byte(0xc0)
    }

    /// ADD AL, 7Fh sets OF exactly when AL was 1; SAHF then restores the other five.
    mutating func restoreFlagsFromRAX() {
        assembler.byte(0x04); assembler.byte(0x7f)
        assembler.byte(0x9e)
    }

    // MARK: entry and exit

    private mutating func emitEpilogue() {
        let frame = Self.context, r11 = HostRegister.r11
        assembler.bind(epilogue)
        assembler.byte(0x9c) // PUSHFQ
        assembler.pop(r11)
        assembler.store(.at(frame, NativeFrame.flags), r11)
        assembler.store(.at(frame, NativeFrame.exitRip), HostRegister.rcx)
        assembler.load(r11, .at(frame, NativeFrame.retired))
        assembler.instruction(0x8d, size: 8, reg: r11, .memory(base: r11, index: HostRegister.rdx, scaleShift: 0, disp: 0))
        assembler.store(.at(frame, NativeFrame.retired), r11)
        for guest in mapped {
            assembler.store(.at(Self.registers, Int32(guest) * 8), hostOf[Int(guest)])
        }
        for register in Self.calleeSaved.reversed() { assembler.pop(register) }
        assembler.byte(0xc3)
    }

    /// Called as `(gpr: RDI, frame: RSI) -> EAX` (System V AMD64 ABI). The chain entry after it
    /// is where other blocks continue into this one: host flags already hold the guest's.
    private mutating func emitEntry() {
        for register in Self.calleeSaved { assembler.push(register) }
        assembler.instruction(0x89, size: 8, reg: HostRegister.rdi, .register(Self.registers))
        assembler.instruction(0x89, size: 8, reg: HostRegister.rsi, .register(Self.context))
        // Only the arithmetic flags reach the host: TF, DF, AC and the rest stay as the ABI wants them.
        assembler.load(HostRegister.rax, .at(Self.context, NativeFrame.flags))
        assembler.instruction(0x81, size: 4, reg: 4, .register(HostRegister.rax)) // AND EAX, imm32
        assembler.int32(Self.arithmeticFlags)
        assembler.push(HostRegister.rax)
        assembler.byte(0x9d) // POPFQ
        assembler.bind(chainEntry)
        for guest in mapped {
            assembler.load(hostOf[Int(guest)], .at(Self.registers, Int32(guest) * 8))
        }
        assembler.jump(to: head)
    }
}

extension Op {
    /// The plain ALU form inside a fused compare-and-branch entry.
    var unfused: Op {
        switch generic {
        case .aluRegRegBranch: return .aluRegReg
        case .aluRegImmBranch: return .aluRegImm
        case .aluRegMemBranch: return .aluRegMem
        case .aluMemImmBranch: return .aluMemImm
        default: return self
        }
    }
}
