/// Guest memory operands in translated code: the effective address, then the software TLB inline.
extension BlockTranslator {
    /// TLB entries are found by shifting the address, so their size must be a power of two and the
    /// host pointer must sit at offset 8 (`CPUCore.nativeCodeAvailable` checks both).
    static let entryShift = UInt8(MemoryLayout<TLBEntry>.stride.trailingZeroBitCount)
    static var tlbLayoutIsSupported: Bool {
        let stride = MemoryLayout<TLBEntry>.stride
        return stride.nonzeroBitCount == 1 && stride <= 4096 && MemoryLayout<TLBEntry>.offset(of: \.host) == 8
    }

    /// Computes the effective address of `ins` into `register` as a `size`-byte value (LEA's semantics:
    /// SDM vol. 2, LEA, with the address size of the instruction).
    /// 16-bit addressing (32-bit code with 0x67) is left to the interpreter.
    mutating func effectiveAddress(_ ins: DecodedInstruction, next: UInt64, into register: UInt8, size: UInt8) -> Bool {
        guard ins.addressSize >= 4 else { return false }
        let base = ins.base, index = ins.index
        if base == DecodedInstruction.ripBase || (base == DecodedInstruction.noRegister && index == DecodedInstruction.noRegister) {
            var value = UInt64(bitPattern: ins.disp)
            if base == DecodedInstruction.ripBase { value &+= next }
            assembler.move(register, immediate: value & ins.addressMask, size: size)
            return true
        }
        guard let displacement = Int32(exactly: ins.disp) else { return false }
        var hostBase: UInt8?, hostIndex: UInt8?
        if base != DecodedInstruction.noRegister {
            guard let mapped = host(base) else { return false }
            hostBase = mapped
        }
        if index != DecodedInstruction.noRegister {
            guard let mapped = host(index) else { return false }
            hostIndex = mapped
        }
        assembler.instruction(0x8d, size: size, reg: register,
                              .memory(base: hostBase, index: hostIndex, scaleShift: ins.scale, disp: displacement),
                              address32: ins.addressSize == 4)
        return true
    }

    /// The memory operand of `ins` (an access of `size` bytes) as a host operand [RDX + RCX], after the
    /// inline TLB check: the page's entry in the read or write array must carry the tag of the access's
    /// last byte, which also rejects accesses crossing into the next page (their first and last bytes
    /// differ in page and so in slot). A miss calls the refill helper out of line (`refillCall`); if
    /// that cannot help, the instruction is left to the interpreter with the flags as they were.
    /// In 64-bit code ES, CS, SS and DS are flat and FS and GS only add their base (SDM vol. 3,
    /// 3.4.4), read from `CPUCore.segmentBase`: it changes only through instructions that are never
    /// translated (WRMSR, SWAPGS, MOV to FS or GS). 32-bit code goes through `segmentedAddress`.
    /// An `alignment` of 16 leaves a misaligned offset to the interpreter, which raises the #GP(0)
    /// of legacy SSE's aligned forms (SDM vol. 2, MOVDQA: the effective address is checked).
    mutating func memory(_ ins: DecodedInstruction, rip: UInt64, next: UInt64, size: UInt8, write: Bool,
                         alignment: UInt8 = 1) -> HostOperand? {
        let segment = Int(ins.segment)
        if segments != nil {
            guard let base = segmentedAddress(ins, next: next) else { return nil }
            return checkedAccess(size: size, write: write, rip: rip, segmentBase: base.segment, baseSize: base.size,
                                 alignment: alignment)
        }
        guard ins.isFlat || segment == Segment.fs || segment == Segment.gs,
              effectiveAddress(ins, next: next, into: HostRegister.rcx, size: ins.addressSize == 4 ? 4 : 8) else { return nil }
        return checkedAccess(size: size, write: write, rip: rip, segmentBase: ins.isFlat ? nil : segment, alignment: alignment)
    }

    /// 32-bit code: the offset into RCX, and the segment whose base must be added to it (none when the
    /// base is zero) with the width of the addition: 4 bytes where linear addresses wrap at 4 GiB,
    /// 8 in compatibility mode, as `CPUCore.linearAddress` forms them. Only through segments that need
    /// no limit or type check, with 32-bit addressing (16-bit addresses are left to the interpreter).
    private mutating func segmentedAddress(_ ins: DecodedInstruction, next: UInt64) -> (segment: Int?, size: UInt8)? {
        let segment = Int(ins.segment)
        guard let shape = segments, ins.addressSize == 4, shape.contains(.unchecked(segment)),
              effectiveAddress(ins, next: next, into: HostRegister.rcx, size: 4) else { return nil }
        assumed.insert(.unchecked(segment))
        if shape.contains(.zeroBase(segment)) {
            assumed.insert(.zeroBase(segment))
            return (nil, 4)
        }
        let wraps = shape.contains(.wrapsAt4GiB)
        assumed.insert(wraps ? .wrapsAt4GiB : .doesNotWrap)
        return (segment, wraps ? 4 : 8)
    }

    /// The bytes PUSH, POP, CALL and RET move: 8 in 64-bit code; 4 in 32-bit code, whose translations
    /// need a 32-bit stack (`stackSlot`).
    var stackWidth: UInt8 { segments == nil ? 8 : 4 }

    /// The stack slot at RSP + `offset`, checked like `memory`. SS is flat in 64-bit mode; 32-bit code
    /// is translated with ESP as the stack pointer, a flat SS and a zero base.
    mutating func stackSlot(offset: Int32, size: UInt8, write: Bool, rip: UInt64) -> HostOperand? {
        guard let stackPointer = host(4) else { return nil }
        if let shape = segments {
            let flatStack: TranslationAssumptions = [.stack32, .unchecked(Segment.ss), .zeroBase(Segment.ss)]
            guard shape.contains(flatStack) else { return nil }
            assumed.formUnion(flatStack)
            assembler.instruction(0x8d, size: 4, reg: HostRegister.rcx, .at(stackPointer, offset), address32: true)
        } else {
            assembler.instruction(0x8d, size: 8, reg: HostRegister.rcx, .at(stackPointer, offset))
        }
        return checkedAccess(size: size, write: write, rip: rip)
    }

    /// The TLB check for an access of `size` bytes at the offset in RCX, plus the base of segment
    /// `segmentBase` if given, added with `baseSize` bytes (the ADD comes after the flags are saved),
    /// and with the offset's `alignment` checked first.
    private mutating func checkedAccess(size: UInt8, write: Bool, rip: UInt64, segmentBase: Int? = nil,
                                        baseSize: UInt8 = 8, alignment: UInt8 = 1) -> HostOperand {
        let rcx = HostRegister.rcx, rdx = HostRegister.rdx, r11 = HostRegister.r11
        let exit = missExit(rip: rip)
        saveFlagsInRAX()
        if alignment > 1 {
            assembler.instruction(0xf6, size: 1, reg: 0, .register(rcx)) // TEST CL, alignment - 1
            assembler.immediate(UInt64(alignment - 1), size: 1)
            assembler.jump(if: 0x5, to: exit)                           // JNZ: the interpreter faults
        }
        if let segmentBase {
            assembler.load(r11, .at(Self.context, NativeFrame.segmentBases))
            assembler.instruction(0x03, size: baseSize, reg: rcx, .at(r11, Int32(segmentBase * 8))) // ADD RCX, [bases + segment]
        }
        assembler.instruction(0x8d, size: 8, reg: rdx, .at(rcx, Int32(size) - 1)) // LEA RDX, [RCX + size - 1]
        assembler.instruction(0xc1, size: 8, reg: 5, .register(rdx))              // SHR RDX, 12: its page
        assembler.immediate(12, size: 1)
        let slots = UInt64(SoftTLB.entriesPerArray - 1) << 12
        assembler.instruction(0x89, size: 4, reg: rcx, .register(r11))             // MOV R11D, ECX
        assembler.instruction(0x81, size: 4, reg: 4, .register(r11))               // AND R11D, slot bits
        assembler.immediate(slots, size: 4)
        assembler.instruction(0xc1, size: 4, reg: 5, .register(r11))               // SHR R11D: slot * stride
        assembler.immediate(UInt64(12 - Self.entryShift), size: 1)
        assembler.instruction(0x03, size: 8, reg: r11,                             // ADD R11, [frame.tlb]
                              .at(Self.context, write ? NativeFrame.tlbWrite : NativeFrame.tlbRead))
        assembler.instruction(0x3b, size: 8, reg: rdx, .at(r11))                   // CMP RDX, [R11] (tag)
        let miss = assembler.newLabel(), resume = assembler.newLabel()
        stubs.append(.refill(label: miss, resume: resume, exit: exit, size: size, write: write))
        assembler.jump(if: 0x5, to: miss)                                          // JNE
        assembler.load(rdx, .at(r11, 8))                                           // host page
        assembler.bind(resume)
        assembler.instruction(0x81, size: 4, reg: 4, .register(rcx))               // AND ECX, 0FFFh
        assembler.immediate(0xfff, size: 4)
        restoreFlagsFromRAX()
        return .memory(base: rdx, index: rcx, scaleShift: 0, disp: 0)
    }

    /// The out-of-line miss path: calls `nativeTLBRefill(core, RCX, size | write << 8)` (System V ABI)
    /// with the guest flags (RAX), the address (RCX) and the caller-saved registers holding guest
    /// registers pushed, and the stack 16-byte aligned at the call. RDX = the host page on return;
    /// null leaves through `exit`.
    mutating func refillCall(resume: Int, exit: Int, size: UInt8, write: Bool) {
        let callerSaved: Set<UInt8> = [HostRegister.rsi, HostRegister.rdi, HostRegister.r8, HostRegister.r9, HostRegister.r10]
        let saved = [HostRegister.rax, HostRegister.rcx] + mapped.map { hostOf[Int($0)] }.filter(callerSaved.contains)
        for register in saved { assembler.push(register) }
        // RSP is 8 mod 16 in the body (return address plus six pushes): an even number of pushes
        // needs one more slot.
        let pad: Int32 = saved.count % 2 == 0 ? 8 : 0
        if pad != 0 { assembler.instruction(0x8d, size: 8, reg: HostRegister.rsp, .at(HostRegister.rsp, -pad)) }
        assembler.load(HostRegister.rdi, .at(Self.context, NativeFrame.core))
        assembler.instruction(0x89, size: 8, reg: HostRegister.rcx, .register(HostRegister.rsi))
        assembler.move(HostRegister.rdx, immediate: UInt64(size) | (write ? 0x100 : 0), size: 4)
        assembler.instruction(0xff, size: 4, reg: 2, .at(Self.context, NativeFrame.refill)) // CALL [frame.refill]
        assembler.instruction(0x89, size: 8, reg: HostRegister.rax, .register(HostRegister.rdx))
        if pad != 0 { assembler.instruction(0x8d, size: 8, reg: HostRegister.rsp, .at(HostRegister.rsp, pad)) }
        for register in saved.reversed() { assembler.pop(register) }
        assembler.instruction(0x85, size: 8, reg: HostRegister.rdx, .register(HostRegister.rdx)) // TEST RDX, RDX
        assembler.jump(if: 0x4, to: exit)                                                          // JZ
        assembler.jump(to: resume)
    }
}
