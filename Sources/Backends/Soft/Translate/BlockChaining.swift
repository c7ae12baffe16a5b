/// Block chaining (QEMU's TB linking, done through a jump cache as its lookup_and_goto_ptr does):
/// a translated block that ends by going on to another address looks that address up in a small
/// direct-mapped cache of translated blocks and continues straight into the one it finds, instead of
/// returning to the Swift run loop, whose lookup, flag conversion and call into the next block's
/// prologue cost more than a short block itself.
///
/// Entries are (linear RIP, chain entry, `CPUCore.blockEpoch`); the run loop writes one for every
/// block it calls into. An entry only counts while its epoch is the CPU's current one: each address
/// space and privilege level has its own, renewed whenever a linear address could map or decode
/// differently there (TLB entries dropped, a mode change, code-cache flushes; `BlockEpochs`), so a
/// stale entry is never followed, and one made in user mode is never followed by the kernel or the
/// other way round. Between blocks the guest
/// registers are in the GPR array and the guest flags in the host's RFLAGS.
enum JumpCache {
    static let entries = 4096
    static let entryShift: UInt8 = 5
    static let ripOffset = 0, codeOffset = 8, epochOffset = 16

    /// The slot of `rip`: its low bits folded with its page number's, as the translated code computes it.
    @inline(__always)
    static func slot(_ rip: UInt64) -> Int { Int(truncatingIfNeeded: (rip ^ (rip >> 12)) & UInt64(entries - 1)) }
}

extension BlockTranslator {
    /// The chain dispatch every `.next` exit of the block jumps to, with RCX = the guest's next RIP
    /// and EDX = the instructions retired in this pass. It stores the guest registers and counts the
    /// pass; then, unless the vCPU was kicked or the budget (`NativeFrame.passesLeft`, shared with
    /// back edges) is spent, it looks RIP up in the jump cache and jumps to the block found there.
    /// Otherwise it leaves through the epilogue with nothing more to count.
    mutating func emitChainDispatch() {
        let frame = Self.context, rcx = HostRegister.rcx, rdx = HostRegister.rdx, r11 = HostRegister.r11
        let leave = assembler.newLabel(), lookUp = assembler.newLabel(), miss = assembler.newLabel()
        assembler.bind(chain)
        for guest in mapped {
            assembler.store(.at(Self.registers, Int32(guest) * 8), hostOf[Int(guest)])
        }
        assembler.load(r11, .at(frame, NativeFrame.retired))
        assembler.instruction(0x8d, size: 8, reg: r11, .memory(base: r11, index: rdx, scaleShift: 0, disp: 0))
        assembler.store(.at(frame, NativeFrame.retired), r11)
        assembler.instruction(0x89, size: 8, reg: rcx, .register(rdx)) // RDX = next RIP from here on
        takePass(continuingAt: lookUp, orLeavingTo: leave)
        // The lookup compares, so the flags wait in AH/AL.
        assembler.bind(lookUp)
        saveFlagsInRAX()
        assembler.instruction(0x89, size: 8, reg: rdx, .register(rcx))
        assembler.instruction(0xc1, size: 8, reg: 5, .register(rcx)) // SHR RCX, 12
        assembler.immediate(12, size: 1)
        assembler.instruction(0x31, size: 8, reg: rdx, .register(rcx)) // XOR RCX, RDX
        assembler.instruction(0x81, size: 4, reg: 4, .register(rcx)) // AND ECX, slots - 1
        assembler.immediate(UInt64(JumpCache.entries - 1), size: 4)
        assembler.instruction(0xc1, size: 4, reg: 4, .register(rcx)) // SHL ECX, entry shift
        assembler.immediate(UInt64(JumpCache.entryShift), size: 1)
        assembler.instruction(0x03, size: 8, reg: rcx, .at(frame, NativeFrame.jumpCache))
        assembler.instruction(0x3b, size: 8, reg: rdx, .at(rcx, Int32(JumpCache.ripOffset)))
        assembler.jump(if: 0x5, to: miss)
        assembler.load(r11, .at(rcx, Int32(JumpCache.epochOffset)))
        assembler.instruction(0x3b, size: 8, reg: r11, .at(frame, NativeFrame.epoch))
        assembler.jump(if: 0x5, to: miss)
        assembler.load(r11, .at(rcx, Int32(JumpCache.codeOffset)))
        restoreFlagsFromRAX()
        assembler.instruction(0xff, size: 4, reg: 4, .register(r11)) // JMP R11
        assembler.bind(miss)
        restoreFlagsFromRAX()
        assembler.bind(leave)
        assembler.instruction(0x89, size: 8, reg: rdx, .register(rcx))
        assembler.move(rdx, immediate: 0, size: 4) // already counted
        assembler.move(HostRegister.rax, immediate: UInt64(NativeExit.next.rawValue), size: 4)
        assembler.jump(to: epilogue)
    }
}
