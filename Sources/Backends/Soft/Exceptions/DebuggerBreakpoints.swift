import VMMKit

/// The debugger's (gdb's) breakpoints, watchpoints and single step, as the Soft CPU itself checks
/// them: apart from the guest's DR0-DR7 and TF, which keep working for the guest, and invisible to
/// it (no #DB, DR6 unchanged).
///
/// Breakpoints and watchpoints cost little. The execution loop looks at each block as it enters
/// it and runs it only up to the first instruction with a breakpoint; a block holding one is never
/// translated, and arming them drops the translated code, whose chains could otherwise run into
/// one. Pages holding a watched byte get no software-TLB entries, in the interpreter
/// (`pageIsWatched`) or from translated code (`refillForNative`), so every access to them takes the
/// interpreter's slow path, which records a hit (`noteDataAccess`) and ends the block after the
/// instruction. Only a single step makes the loop run one interpreted instruction per step
/// (`debugStepping`).
struct DebuggerBreakpoints {
    var breakpoints = DebugBreakpoints()
    /// Stop after the next instruction.
    var singleStep = false
    /// Anything to check.
    private(set) var armed = false
    /// A single step: read once per chain of blocks with the guest's own debug state.
    private(set) var stepsEachInstruction = false
    private(set) var watchesMemory = false
    /// Software or hardware breakpoints, and the lowest and highest of their addresses, so that most
    /// blocks are passed by one comparison.
    private(set) var breaksOnInstructions = false
    private(set) var breakpointRange: ClosedRange<UInt64> = 0...0
    /// The first watchpoint the current stepped instruction hit, and the address it touched.
    var watchHit: (kind: WatchpointKind, address: UInt64)?

    mutating func arm(_ breakpoints: DebugBreakpoints, singleStep: Bool) {
        self.breakpoints = breakpoints
        self.singleStep = singleStep
        armed = singleStep || !breakpoints.isEmpty
        stepsEachInstruction = singleStep
        watchesMemory = !breakpoints.watchpoints.isEmpty
        let addresses = breakpoints.software.union(breakpoints.hardware)
        breaksOnInstructions = !addresses.isEmpty
        breakpointRange = (addresses.min() ?? 0)...(addresses.max() ?? 0)
        watchHit = nil
    }
}

extension CPUCore {
    /// A debugger breakpoint on the instruction at CS:RIP, before it runs. Unlike a DR7 breakpoint
    /// it ignores RF: gdb steps over a breakpoint it resumes from by taking it out first.
    func debuggerBreakpoint() -> DebugStopReason? {
        guard !debugger.breakpoints.software.isEmpty || !debugger.breakpoints.hardware.isEmpty else { return nil }
        let linear = (segmentBase[Segment.cs] &+ rip) & linearMask
        if debugger.breakpoints.software.contains(linear) { return .softwareBreakpoint }
        if debugger.breakpoints.hardware.contains(linear) { return .hardwareBreakpoint }
        return nil
    }

    /// How many entries of the block at RIP (`start`, `count` entries) run before the first
    /// instruction with a debugger breakpoint, or nil if none has one. A fused compare-and-branch
    /// entry spans two instructions: a breakpoint on its Jcc lets the compare run alone.
    func entriesBeforeDebuggerBreakpoint(_ start: UnsafeMutablePointer<DecodedInstruction>, count: Int) -> Int? {
        var address = (segmentBase[Segment.cs] &+ rip) & linearMask
        // No instruction is longer than 15 bytes (SDM vol. 2, 2.3.11).
        guard address <= debugger.breakpointRange.upperBound,
              address >= debugger.breakpointRange.lowerBound || address &+ UInt64(count) &* 15 >= debugger.breakpointRange.lowerBound
        else { return nil }
        var index = 0
        while index < count {
            if isDebuggerBreakpoint(address) { return index }
            let entry = start + index
            if entry.pointee.op.isFusedBranch && index + 1 < count {
                let branch = (address &+ UInt64(entry.pointee.length &- entry[1].length)) & linearMask
                if isDebuggerBreakpoint(branch) { return index + 1 }
                index += 2
            } else {
                index += 1
            }
            address = (address &+ UInt64(entry.pointee.length)) & linearMask
        }
        return nil
    }

    private func isDebuggerBreakpoint(_ linear: UInt64) -> Bool {
        debugger.breakpoints.software.contains(linear) || debugger.breakpoints.hardware.contains(linear)
    }

    /// After one stepped instruction: a watchpoint it hit, else the end of a single step.
    mutating func debuggerStopAfterStep() -> DebugStopReason? {
        if let hit = debugger.watchHit {
            debugger.watchHit = nil
            return .watchpoint(hit.kind, address: hit.address)
        }
        return debugger.singleStep ? .singleStep : nil
    }

    /// Records the first debugger watchpoint an access of `size` bytes at `linear` hits, and ends
    /// the block after this instruction so the loop reports it.
    mutating func noteDebuggerAccess(_ linear: UInt64, _ size: Int, write: Bool) {
        guard debugger.watchHit == nil else { return }
        for watchpoint in debugger.breakpoints.watchpoints where watchpoint.hits(linear, size: UInt64(size), write: write) {
            debugger.watchHit = (watchpoint.kind, max(linear, watchpoint.address))
            breakBlock = true
            return
        }
    }

    /// Whether the 4 KiB page of `linear` holds bytes a debugger watchpoint watches.
    func debuggerWatchesPage(_ linear: UInt64) -> Bool {
        for watchpoint in debugger.breakpoints.watchpoints {
            let last = watchpoint.address &+ watchpoint.length &- 1
            if watchpoint.address >> 12 == linear >> 12 || last >> 12 == linear >> 12 { return true }
        }
        return false
    }

    /// The debugger armed new breakpoints (every vCPU parked): pages now watched lose their TLB
    /// entries, and the next chain of blocks looks at `debugStepping` again.
    mutating func armDebugger(_ breakpoints: DebugBreakpoints, singleStep: Bool) {
        let instructionBreakpointsChanged = breakpoints.software != debugger.breakpoints.software
            || breakpoints.hardware != debugger.breakpoints.hardware
        debugger.arm(breakpoints, singleStep: singleStep)
        if !breakpoints.watchpoints.isEmpty { tlb.flushAll() }
        if instructionBreakpointsChanged && debugger.breaksOnInstructions { flushCodeCache() }
        breakBlock = true
    }
}
