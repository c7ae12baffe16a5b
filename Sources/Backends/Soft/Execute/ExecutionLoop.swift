/// Why `CPUCore.run(budget:)` returned.
enum LoopExit {
    case budgetExhausted
    case halted
    /// A kick, a stop request, or IF may have become 1: the vCPU must look at the machine.
    case attention
    /// Only in step mode (`reportExceptions`): the exception was not delivered.
    case exception(Fault)
    case tripleFault
}

extension CPUCore {
    /// Executes up to `budget` instructions block by block.
    ///
    /// The hot path has three levels. Blocks are chained: when a block ends in a taken branch (or simply
    /// runs out) and no handler asked for attention (`breakBlock`), the next block starts at once, with
    /// only the kick flag polled; the full checks (HLT, interrupt shadow, pending interrupts) run only
    /// after `breakBlock`, which every handler that changes them sets. A block that branches back to its
    /// own start (a loop) goes round again from inside the instruction loop, with no lookup and only
    /// the budget, `breakBlock` and the kick flag checked. Inside a block, each instruction costs one
    /// store of the fall-through RIP, the dispatch switch, and one compare that notices a taken branch
    /// (the handler moved `nextRip`) without the handler having to say so; `breakBlock` ends the block
    /// through the same bound test that ends it at its last entry (`entryLimit`). Retired instructions
    /// are counted once per chain, from what is left of its budget (`limit`).
    mutating func run(budget: Int) -> LoopExit {
        var remaining = budget
        defer { instructionsRetired &+= UInt64(budget &- remaining) }
        // The last block looked up, reused when execution comes back to its start in the same epoch.
        var lastRip = UInt64.max, lastEpoch: UInt64 = 0
        var last: (start: UnsafeMutablePointer<DecodedInstruction>, count: Int) = (scratch, 0)
        // The running block's first entry and address: enough to count what retired before a fault, so
        // the instruction pointer of the inner loop need not survive into `catch` (which would keep it
        // in memory rather than a register).
        var blockStart = scratch, blockEntryRip: UInt64 = 0
        // A translated block left at an instruction only the interpreter can finish (a TLB miss): the
        // next block runs interpreted, so that instruction makes progress.
        var interpretNext = false
        while remaining > 0 {
            if halted { return .halted }
            // A trap of the last instruction comes before interrupts (SDM vol. 3, table 6-2).
            if let trap = dueSingleStep() {
                if let exit = raiseDebugException(trap) { return exit }
                continue
            }
            // With translation on, chains are cut into slices so that a loop spinning in the
            // interpreter comes back to the lookup, where blocks warm up (`NativeCode.threshold`).
            var limit = native.enabled ? min(remaining, NativeCode.heatSlice) : remaining
            // What translated code may use of this chain's budget: all of it but for a shadow.
            var translatedBudget = remaining
            if interruptShadow {
                interruptShadow = false // exactly one instruction runs before any interrupt
                (limit, translatedBudget) = (1, 1)
            } else if checkInterrupts || signals.isKicked {
                return .attention
            }
            // Single step, RF or armed breakpoints: one interpreted instruction, checked around.
            let stepping = debugStepping
            var trapFlagAtStart = false
            if stepping {
                if let fault = instructionBreakpoint() {
                    if let exit = raiseDebugException(fault) { return exit }
                    // Counted as a step: a breakpoint on its own handler must not keep the loop from
                    // ever returning to the vCPU.
                    remaining &-= 1
                    continue
                }
                (limit, translatedBudget) = (1, 1)
                interpretNext = true
                trapFlagAtStart = flags.stored & RFlags.tf != 0
                // Hits of an instruction that faulted, or of an event's delivery, are not reported;
                // those of a MOV SS/POP SS wait for this instruction.
                if !debugShadow { dataBreakpointHits = 0 }
                debugShadow = false
            }
            var granted = limit
            breakBlock = false
            do {
                chain: while true {
                    blockEntryRip = rip // nothing of this block has run if the lookup faults
                    let block: (start: UnsafeMutablePointer<DecodedInstruction>, count: Int)
                    if rip == lastRip && blockEpoch == lastEpoch {
                        block = last
                    } else {
                        block = try currentBlock(scratch: scratch)
                        if block.start != scratch {
                            (last, lastRip, lastEpoch) = (block, rip, blockEpoch)
                        }
                    }
                    if native.enabled && block.start != scratch {
                        let entry = nativeEntry(block.start)
                        if entry.pointee.code == 0 {
                            entry.pointee.heat &+= 1
                            if entry.pointee.heat >= native.threshold { translate(block.start, count: block.count, entry: entry) }
                        }
                        // Translated code may use the chain's whole budget (the slice exists only to
                        // bring interpreted loops back here); what follows gets the slice again.
                        let consumed = granted &- limit, available = translatedBudget &- consumed
                        if entry.pointee.code > NativeCode.untranslatable && entry.pointee.rip == rip && !interpretNext
                            && available >= Int(entry.pointee.passLength) && translationShape.allows(entry.pointee.assumptions) {
                            let run = runNative(entry, limit: available)
                            limit = min(available &- run.retired, NativeCode.heatSlice)
                            granted = consumed &+ run.retired &+ limit
                            interpretNext = run.exit == .interpret
                            if limit == 0 || signals.isKicked { break chain }
                            continue chain
                        }
                    }
                    interpretNext = false
                    blockStart = block.start
                    // A lone cross-page instruction is decoded afresh each time, never re-run in place.
                    let loopRip = block.start == scratch ? UInt64.max : rip
                    repeat {
                        var ins = block.start
                        budgetLimit = UnsafePointer(block.start + min(block.count, limit))
                        entryLimit = budgetLimit
                        repeat {
                            let fallThrough = rip &+ UInt64(ins.pointee.length)
                            nextRip = fallThrough
                            ins += try execute(UnsafePointer(ins))
                            rip = nextRip
                            if rip != fallThrough {
                                guard rip == loopRip && !breakBlock && !signals.isKicked else { break }
                                // Round the loop again while a whole pass fits the budget (`entryLimit`
                                // is then the block's end); otherwise the next pass is bounded below.
                                limit &-= Self.entries(from: block.start, to: ins)
                                ins = block.start
                                if limit < block.count { break }
                            }
                        } while ins < entryLimit // `breakBlock` lowers it
                        limit &-= Self.entries(from: block.start, to: ins)
                        if breakBlock || limit == 0 || signals.isKicked { break chain }
                    } while rip == loopRip
                }
            } catch {
                limit &-= retiredBeforeFault(blockStart, entryRip: blockEntryRip)
                remaining &-= granted &- limit
                if reportExceptions { return .exception(error) }
                if !deliverException(error) { return .tripleFault }
                continue
            }
            remaining &-= granted &- limit
            if stepping, granted != limit,
               let trap = trapAfterStep(blockStart.pointee.op, trapFlagAtStart: trapFlagAtStart, afterStackLoad: debugShadow),
               let exit = raiseDebugException(trap) {
                return exit
            }
        }
        // A SYSRET that ended the budget: its trap, before the vCPU looks for interrupts.
        if let trap = dueSingleStep(), let exit = raiseDebugException(trap) { return exit }
        return .budgetExhausted
    }

    /// A #DB raised between instructions: reported in step mode, else delivered.
    @inline(never)
    mutating func raiseDebugException(_ fault: Fault) -> LoopExit? {
        if reportExceptions { return .exception(fault) }
        return deliverException(fault) ? nil : .tripleFault
    }

    /// Block entries between two pointers into one block (`end` never precedes `start`), without the
    /// signed-division fix-up of pointer subtraction.
    @inline(__always)
    static func entries(from start: UnsafeMutablePointer<DecodedInstruction>,
                        to end: UnsafeMutablePointer<DecodedInstruction>) -> Int {
        Int(bitPattern: (UInt(bitPattern: end) &- UInt(bitPattern: start)) / UInt(MemoryLayout<DecodedInstruction>.stride))
    }

    /// The instructions of the block starting at `start` (at `entryRip`) that completed before the one at
    /// RIP faulted: the entries walked from the block's start up to RIP (a fused pair is two). A fault
    /// raised after moving RIP past its instruction (INT3, INTO, INT1) counts that instruction too.
    @inline(never)
    mutating func retiredBeforeFault(_ start: UnsafeMutablePointer<DecodedInstruction>, entryRip: UInt64) -> Int {
        var address = entryRip, entry = UnsafePointer(start), count = 0
        while address != rip && entry < budgetLimit {
            address &+= UInt64(entry.pointee.length)
            let span = entry.pointee.op.isFusedBranch ? 2 : 1
            entry += span
            count += span
        }
        return address == rip ? count : 0
    }
}
