import VMMKit

/// The debugger's (gdb's) breakpoints, watchpoints and single step, as the Soft CPU itself checks
/// them: apart from the guest's DR0-DR7 and TF, which keep working for the guest, and invisible to
/// it (no #DB, DR6 unchanged). While any is armed the execution loop runs one interpreted
/// instruction per step (`debugStepping`), so translated code never runs past a breakpoint, and
/// pages holding a watched byte get no software-TLB entries (`pageIsWatched`), so every access to
/// them is seen (`noteDataAccess`).
struct DebuggerBreakpoints {
    var breakpoints = DebugBreakpoints()
    /// Stop after the next instruction.
    var singleStep = false
    /// Anything to check: read once per chain of blocks with the guest's own debug state.
    private(set) var armed = false
    /// The first watchpoint the current stepped instruction hit, and the address it touched.
    var watchHit: (kind: WatchpointKind, address: UInt64)?

    mutating func arm(_ breakpoints: DebugBreakpoints, singleStep: Bool) {
        self.breakpoints = breakpoints
        self.singleStep = singleStep
        armed = singleStep || !breakpoints.isEmpty
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

    /// After one stepped instruction: a watchpoint it hit, else the end of a single step.
    mutating func debuggerStopAfterStep() -> DebugStopReason? {
        if let hit = debugger.watchHit {
            debugger.watchHit = nil
            return .watchpoint(hit.kind, address: hit.address)
        }
        return debugger.singleStep ? .singleStep : nil
    }

    /// Records the first debugger watchpoint an access of `size` bytes at `linear` hits.
    mutating func noteDebuggerAccess(_ linear: UInt64, _ size: Int, write: Bool) {
        guard debugger.watchHit == nil else { return }
        for watchpoint in debugger.breakpoints.watchpoints where watchpoint.hits(linear, size: UInt64(size), write: write) {
            debugger.watchHit = (watchpoint.kind, max(linear, watchpoint.address))
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
        debugger.arm(breakpoints, singleStep: singleStep)
        if !breakpoints.watchpoints.isEmpty { tlb.flushAll() }
        breakBlock = true
    }
}
