import VMMKit

/// The whole architectural state of one Soft vCPU plus the caches that make it fast.
///
/// It lives in one heap allocation reached through an `UnsafeMutablePointer` (see `SoftVirtualCPU`), and
/// the interpreter is written as mutating methods on it: field accesses compile to plain loads and
/// stores, with no exclusivity checks, reference counting or dynamic dispatch per instruction.
struct CPUCore {
    // MARK: registers
    /// RAX..R15 in encoding order (SDM vol. 1, 3.4.1.1).
    let gpr: UnsafeMutablePointer<UInt64>
    var rip: UInt64 = 0xfff0
    /// Where execution continues after the current instruction; branch handlers overwrite it.
    var nextRip: UInt64 = 0
    var flags = FlagState()
    let segments: UnsafeMutablePointer<SegmentCache>
    /// Per segment register: the base used for address formation (zero for ES/CS/SS/DS in 64-bit mode,
    /// SDM vol. 3, 3.4.4) and whether offsets need a limit check (false for flat and 64-bit segments).
    let segmentBase: UnsafeMutablePointer<UInt64>
    let segmentNeedsLimitCheck: UnsafeMutablePointer<Bool>
    var gdtr = TableRegister()
    var idtr = TableRegister(base: 0, limit: 0x3ff)
    var cr0: UInt64 = 0x6000_0010
    var cr2: UInt64 = 0
    var cr3: UInt64 = 0
    var cr4: UInt64 = 0
    var efer: UInt64 = 0
    var xcr0: UInt64 = 1
    var debug = DebugRegisters()
    /// The debugger's breakpoints, watchpoints and single step, apart from the guest's DR0-DR7.
    var debugger = DebuggerBreakpoints()
    var msrs = ModelSpecificRegisters()
    /// XMM0..15 as (low, high) pairs of 64-bit words.
    let xmm: UnsafeMutablePointer<UInt64>
    var mxcsr: UInt32 = 0x1f80
    var x87 = X87State()
    /// ST0..7 as saved by FXSAVE: 10 significant bytes in each (low word, high word) pair.
    let x87Registers: UnsafeMutablePointer<UInt64>

    // MARK: derived mode, recomputed by `modeChanged()`
    var cpl: UInt8 = 0
    /// Default operand/address size of the code segment: 2, 4, or 8 (64-bit mode).
    var codeSize: UInt8 = 2
    /// Linear addresses wrap at 4 GiB outside long mode.
    var linearMask: UInt64 = 0xffff_ffff
    /// SS.B: 32-bit stack pointer (or 64-bit in 64-bit mode).
    var stackMask: UInt64 = 0xffff
    /// What 32-bit translations may take for granted about the segment registers now.
    var translationShape = TranslationAssumptions()
    var longMode: Bool { efer & ControlBits.eferLMA != 0 }
    var in64BitMode: Bool { codeSize == 8 }
    var protectedMode: Bool { cr0 & ControlBits.cr0PE != 0 }
    var v86Mode: Bool { flags.stored & RFlags.vm != 0 }

    // MARK: execution control
    /// Where the running block must stop: the first entry past the execution budget, or `stopAtOnce`
    /// once a handler sets `breakBlock`, so the inner loop tests this one bound and nothing else. A
    /// fused compare-and-branch just before it runs as its first instruction alone (see `fusedBranch`).
    var entryLimit: UnsafePointer<DecodedInstruction>
    /// The first entry past the budget of the running block, whatever `breakBlock` did to `entryLimit`.
    var budgetLimit: UnsafePointer<DecodedInstruction>
    /// Set by handlers that change state the current decoded block depends on; ends the block at once.
    var breakBlock = false {
        didSet { if breakBlock { entryLimit = Self.stopAtOnce } }
    }
    /// Below every decoded entry (entries live in heap allocations, never in the first page).
    static let stopAtOnce = UnsafePointer<DecodedInstruction>(bitPattern: 0x1000).unsafelyUnwrapped
    /// Set when IF may just have become 1: pending interrupts must be looked at.
    var checkInterrupts = false
    /// STI and MOV SS/POP SS inhibit interrupts until after the next instruction (SDM vol. 3, 6.8.3).
    var interruptShadow = false
    /// MOV SS/POP SS also hold back debug exceptions to the next boundary (SDM vol. 3, 6.8.3); only
    /// read while stepping (`trapAfterStep`).
    var debugShadow = false
    /// DR6.B0-B3 for the data breakpoints the current stepped instruction (and a MOV SS/POP SS
    /// before it, whose traps wait for this boundary) hit (`noteDataAccess`).
    var dataBreakpointHits: UInt64 = 0
    /// A SYSRET that began with TF clear left it set: its single-step trap is due at the next
    /// boundary, although the loop was not stepping when it ran (`trapAfterStep`).
    var singleStepDue = false
    var halted = false
    /// NMIs are blocked from NMI delivery until the next IRET (SDM vol. 3, 6.7.1).
    var nmiBlocked = false
    var instructionsRetired: UInt64 = 0
    /// The epoch of the translation context the CPU is in (`BlockEpochs`): entries of
    /// `CodeCache.recent` and the jump cache made under another epoch are ignored.
    var blockEpoch: UInt64 = 1
    var epochs = BlockEpochs()
    /// The `SharedCodeMap` epochs this vCPU has caught up with.
    var seenCodeEpoch: UInt64 = 0
    var seenWriteTrapEpoch: UInt64 = 0
    /// Depth of `beginExclusive()` calls on this vCPU (the machine-wide section is taken at depth 1).
    var exclusiveNesting = 0
    /// In step mode exceptions are reported instead of delivered.
    var reportExceptions = false

    // MARK: memory
    var tlb: SoftTLB
    var tlbRead: UnsafeMutablePointer<TLBEntry>
    var tlbWrite: UnsafeMutablePointer<TLBEntry>
    var tlbExec: UnsafeMutablePointer<TLBEntry>
    var physical: PhysicalMemory
    var codeCache: CodeCache
    /// Hot blocks translated to host code (`Translate/`).
    var native = NativeCode()

    /// Where an instruction crossing a page boundary is assembled (15 bytes) and decoded (never cached).
    let crossPageBytes: UnsafeMutablePointer<UInt8>
    let scratch: UnsafeMutablePointer<DecodedInstruction>

    // MARK: environment
    unowned(unsafe) let machine: Machine
    unowned(unsafe) let statistics: ExitStatistics
    unowned(unsafe) let signals: VCPUSignals
    let vcpuIndex: Int
    /// The machine's `--pv` choice, fixed before any vCPU exists.
    let paravirtual: ParavirtualFeatures
    /// The device answering VMCALL/VMMCALL instead of KVM's ABI (Xen's HVM interface), fixed
    /// before any vCPU exists.
    let hypercallHandler: (any HypercallHandler)?
    /// The MSR whose accepted write means a device wrote a page of code (`HypercallPageLoader`).
    let hypercallPageMSR: UInt32?

    init(machine: Machine, statistics: ExitStatistics, signals: VCPUSignals, code: SharedCodeMap, vcpuIndex: Int) {
        crossPageBytes = .allocate(capacity: 16)
        crossPageBytes.initialize(repeating: 0, count: 16)
        scratch = .allocate(capacity: 1)
        scratch.initialize(to: DecodedInstruction())
        entryLimit = UnsafePointer(scratch)
        budgetLimit = UnsafePointer(scratch)
        self.signals = signals
        paravirtual = machine.paravirtual
        hypercallHandler = machine.hypercalls.handler
        hypercallPageMSR = machine.msrs.hypercallPageLoader?.pageMSR
        gpr = .allocate(capacity: 16)
        gpr.initialize(repeating: 0, count: 16)
        segments = .allocate(capacity: Segment.count)
        segments.initialize(repeating: SegmentCache(), count: Segment.count)
        segments[Segment.cs] = SegmentCache(realModeSelector: 0xf000, type: 0xb)
        segments[Segment.cs].base = 0xffff_0000
        segments[Segment.ldtr].type = 2
        segments[Segment.ldtr].codeOrData = false
        segments[Segment.tr].type = 0xb
        segments[Segment.tr].codeOrData = false
        segmentBase = .allocate(capacity: Segment.count)
        segmentBase.initialize(repeating: 0, count: Segment.count)
        segmentNeedsLimitCheck = .allocate(capacity: Segment.count)
        segmentNeedsLimitCheck.initialize(repeating: false, count: Segment.count)
        xmm = .allocate(capacity: 32)
        xmm.initialize(repeating: 0, count: 32)
        x87Registers = .allocate(capacity: 16)
        x87Registers.initialize(repeating: 0, count: 16)
        tlb = SoftTLB()
        tlbRead = tlb.entries
        tlbWrite = tlb.entries
        tlbExec = tlb.entries
        physical = PhysicalMemory(memory: machine.memory, code: code)
        // The CR3-keyed TLB sets rely on trapping writes to page tables, which only this vCPU's writes
        // do; with several vCPUs another one may edit an inactive address space, so they stay off.
        if machine.vcpuCount > 1 { tlb.cr3CacheEnabled = false }
        codeCache = CodeCache()
        self.machine = machine
        self.statistics = statistics
        self.vcpuIndex = vcpuIndex
        gpr[2] = 0x600 // EDX at reset: family/model/stepping (SDM vol. 3, 9.1.4)
        modeChanged()
    }

    func deallocate() {
        gpr.deallocate()
        segments.deallocate()
        segmentBase.deallocate()
        segmentNeedsLimitCheck.deallocate()
        xmm.deallocate()
        x87Registers.deallocate()
        scratch.deallocate()
        crossPageBytes.deallocate()
        tlb.deallocate()
        epochs.deallocate()
        physical.deallocate()
        codeCache.deallocate()
        native.deallocate()
    }

    /// Recomputes everything derived from CR0/CR4/EFER/CS/SS/RFLAGS.VM and selects the TLBs for the
    /// current privilege level. Called after any change to those.
    mutating func modeChanged() {
        let cs = segments[Segment.cs]
        if !protectedMode {
            cpl = 0
            codeSize = cs.db ? 4 : 2
        } else if v86Mode {
            cpl = 3
            codeSize = 2
        } else {
            // SS.DPL always equals CPL; CS.RPL does not right after CR0.PE is set (SDM vol. 3, 9.9.1).
            cpl = segments[Segment.ss].dpl
            codeSize = longMode && cs.long ? 8 : (cs.db ? 4 : 2)
        }
        linearMask = longMode ? UInt64.max : 0xffff_ffff
        stackMask = codeSize == 8 ? UInt64.max : (segments[Segment.ss].db ? 0xffff_ffff : 0xffff)
        for index in 0..<6 {
            let segment = segments[index]
            if codeSize == 8 {
                segmentBase[index] = index >= Segment.fs ? segment.base : 0
                segmentNeedsLimitCheck[index] = false
            } else {
                segmentBase[index] = segment.base & 0xffff_ffff
                segmentNeedsLimitCheck[index] = segment.unusable || segment.isExpandDown || segment.limit != 0xffff_ffff
            }
        }
        translationShape = currentTranslationShape()
        selectTLBs()
        breakBlock = true
    }

    /// Supervisor and user accesses use separate TLB arrays so a hit never needs a privilege check.
    @inline(__always)
    mutating func selectTLBs() {
        breakBlock = true // the execution loop re-runs a looping block only within one epoch
        let user = cpl == 3
        tlbRead = tlb.current(.read, user: user)
        tlbWrite = tlb.current(.write, user: user)
        tlbExec = tlb.current(.execute, user: user)
        selectBlockEpoch()
    }

    /// Takes the current context's epoch (after a privilege, mode or address-space change, or TLB
    /// entries dropped).
    @inline(__always)
    mutating func selectBlockEpoch() {
        blockEpoch = epochs.epoch(tlbSet: tlb.active, user: cpl == 3, tlbGeneration: tlb.activeGeneration,
                                  codeSize: codeSize, shape: translationShape)
    }

    /// Decoded code was dropped or forgotten: no context's linear shortcuts or chains may be followed.
    mutating func invalidateBlockShortcuts() {
        epochs.invalidateAll()
        selectBlockEpoch()
        breakBlock = true
    }
}

/// RFLAGS bits (SDM vol. 1, 3.4.3).
enum RFlags {
    static let cf: UInt64 = 1 << 0, fixed: UInt64 = 1 << 1, pf: UInt64 = 1 << 2, af: UInt64 = 1 << 4
    static let zf: UInt64 = 1 << 6, sf: UInt64 = 1 << 7, tf: UInt64 = 1 << 8, `if`: UInt64 = 1 << 9
    static let df: UInt64 = 1 << 10, of: UInt64 = 1 << 11, iopl: UInt64 = 3 << 12, nt: UInt64 = 1 << 14
    static let rf: UInt64 = 1 << 16, vm: UInt64 = 1 << 17, ac: UInt64 = 1 << 18, vif: UInt64 = 1 << 19
    static let vip: UInt64 = 1 << 20, id: UInt64 = 1 << 21
    static let arithmetic: UInt64 = cf | pf | af | zf | sf | of
    /// Bits software can change at all on this CPU.
    static let writable: UInt64 = arithmetic | tf | `if` | df | iopl | nt | rf | vm | ac | vif | vip | id
}
