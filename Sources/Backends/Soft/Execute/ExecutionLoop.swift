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
    /// The hot path has two levels. Blocks are chained: when a block ends in a taken branch (or simply
    /// runs out) and no handler asked for attention (`breakBlock`), the next block starts at once, with
    /// only the kick flag polled; the full checks (HLT, interrupt shadow, pending interrupts) run only
    /// after `breakBlock`, which every handler that changes them sets. Inside a block, each instruction
    /// costs one store of the fall-through RIP, the dispatch switch, and one compare that notices a
    /// taken branch (the handler moved `nextRip`) without the handler having to say so.
    mutating func run(budget: Int) -> LoopExit {
        var remaining = budget
        // The last block, reused without a lookup when execution loops back to its start in the same
        // epoch (the common shape of hot loops).
        var lastRip = UInt64.max, lastEpoch: UInt64 = 0
        var last: (start: UnsafeMutablePointer<DecodedInstruction>, count: Int) = (scratch, 0)
        // The instruction being executed and its block's first, kept outside `do` for the retired count
        // when an instruction faults.
        var ins = scratch, blockStart = scratch
        while remaining > 0 {
            if halted { return .halted }
            var limit = remaining
            if interruptShadow {
                interruptShadow = false // exactly one instruction runs before any interrupt
                limit = 1
            } else if checkInterrupts || signals.isKicked {
                return .attention
            }
            breakBlock = false
            do {
                chain: while true {
                    blockStart = ins // nothing of this block has run if the lookup faults
                    let block: (start: UnsafeMutablePointer<DecodedInstruction>, count: Int)
                    if rip == lastRip && blockEpoch == lastEpoch {
                        block = last
                    } else {
                        block = try currentBlock(scratch: scratch)
                        if block.start != scratch {
                            (last, lastRip, lastEpoch) = (block, rip, blockEpoch)
                        }
                    }
                    // A block that branches back to its own start (a loop) runs again without a lookup;
                    // not a lone cross-page instruction, which is decoded afresh each time.
                    let blockRip = block.start == scratch ? UInt64.max : rip
                    repeat {
                        blockStart = block.start
                        ins = block.start
                        let end = block.start + min(block.count, limit)
                        entryLimit = UnsafePointer(end)
                        repeat {
                            let fallThrough = rip &+ UInt64(ins.pointee.length)
                            nextRip = fallThrough
                            ins += try execute(UnsafePointer(ins))
                            rip = nextRip
                            if rip != fallThrough || breakBlock { break }
                        } while ins < end
                        let executed = Self.entries(from: blockStart, to: ins)
                        remaining &-= executed
                        limit &-= executed
                        instructionsRetired &+= UInt64(executed)
                        if breakBlock || limit == 0 || signals.isKicked { break chain }
                    } while rip == blockRip
                }
            } catch {
                let executed = Self.entries(from: blockStart, to: ins)
                remaining &-= executed
                instructionsRetired &+= UInt64(executed)
                if reportExceptions { return .exception(error) }
                if !deliverException(error) { return .tripleFault }
            }
        }
        return .budgetExhausted
    }

    /// Block entries between two pointers into one block (`ins` never precedes `blockStart`), without
    /// the signed-division fix-up of pointer subtraction.
    @inline(__always)
    static func entries(from start: UnsafeMutablePointer<DecodedInstruction>,
                        to end: UnsafeMutablePointer<DecodedInstruction>) -> Int {
        Int(bitPattern: (UInt(bitPattern: end) &- UInt(bitPattern: start)) / UInt(MemoryLayout<DecodedInstruction>.stride))
    }
}
