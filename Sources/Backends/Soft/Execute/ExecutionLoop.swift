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
    /// Executes up to `budget` instructions block by block. The inner loop is the hot path: a block
    /// lookup per block, then per instruction one store of the next RIP, one switch, one flag test.
    mutating func run(budget: Int) -> LoopExit {
        var remaining = budget
        // The last block, reused without a lookup when execution loops back to its start in the same
        // epoch (the common shape of hot loops).
        var lastRip = UInt64.max, lastEpoch: UInt64 = 0
        var last: (start: UnsafeMutablePointer<DecodedInstruction>, count: Int) = (scratch, 0)
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
            var executed = 0
            do {
                let block: (start: UnsafeMutablePointer<DecodedInstruction>, count: Int)
                if rip == lastRip && blockEpoch == lastEpoch {
                    block = last
                } else {
                    block = try currentBlock(scratch: scratch)
                    if block.start != scratch {
                        (last, lastRip, lastEpoch) = (block, rip, blockEpoch)
                    }
                }
                let count = min(block.count, limit)
                while executed < count {
                    let ins = UnsafePointer(block.start + executed)
                    nextRip = rip &+ UInt64(ins.pointee.length)
                    try execute(ins)
                    rip = nextRip
                    executed += 1
                    if breakBlock { break }
                }
            } catch {
                remaining -= executed
                instructionsRetired &+= UInt64(executed)
                if reportExceptions { return .exception(error) }
                if !deliverException(error) { return .tripleFault }
                continue
            }
            remaining -= executed
            instructionsRetired &+= UInt64(executed)
        }
        return .budgetExhausted
    }
}
