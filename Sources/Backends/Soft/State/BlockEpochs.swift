/// Where `CPUCore.blockEpoch` comes from: one epoch per translation context, so a privilege change
/// or a switch back to a recent address space finds its blocks' linear shortcuts
/// (`CodeCache.recent`) and chains (`JumpCache`) still valid instead of starting cold.
///
/// A context is a TLB set (one address space, `SoftTLB`) seen from supervisor or from user mode:
/// a linear address fetches the same code in it for as long as that set keeps its entries, the
/// code it decoded stays cached, and the mode (code size, `TranslationAssumptions`) is the one the
/// shortcuts were made under. The context's epoch is renewed when any of that stops holding; an
/// epoch is never handed out twice, so an entry made in one context never matches in another.
/// A system call's round trip (SYSCALL, the kernel, SYSRET) then keeps both sides' chains, where a
/// single epoch moved at each privilege change dropped them all twice per call.
struct BlockEpochs {
    private struct Context {
        var epoch: UInt64 = 0
        var tlbGeneration = UInt64.max
        var codeGeneration = UInt64.max
        var codeSize: UInt8 = 0
        var shape = TranslationAssumptions()
    }

    private let contexts: UnsafeMutablePointer<Context>
    /// Starts above `CPUCore.blockEpoch`'s initial value, which no context ever gets.
    private var lastIssued: UInt64 = 1
    /// Moved when decoded code anywhere is dropped or breakpoints change: every context goes.
    private var codeGeneration: UInt64 = 0

    init() {
        contexts = .allocate(capacity: SoftTLB.sets * 2)
        contexts.initialize(repeating: Context(), count: SoftTLB.sets * 2)
    }

    func deallocate() { contexts.deallocate() }

    /// Every context's shortcuts go (code dropped or forgotten, INVLPG).
    mutating func invalidateAll() { codeGeneration &+= 1 }

    /// The epoch for the context the CPU is in now, renewed if the context changed since it was issued.
    mutating func epoch(tlbSet: Int, user: Bool, tlbGeneration: UInt64, codeSize: UInt8,
                        shape: TranslationAssumptions) -> UInt64 {
        let context = contexts + (tlbSet * 2 + (user ? 1 : 0))
        if context.pointee.tlbGeneration != tlbGeneration || context.pointee.codeGeneration != codeGeneration
            || context.pointee.codeSize != codeSize || context.pointee.shape != shape {
            lastIssued &+= 1
            context.pointee = Context(epoch: lastIssued, tlbGeneration: tlbGeneration, codeGeneration: codeGeneration,
                                      codeSize: codeSize, shape: shape)
        }
        return context.pointee.epoch
    }
}
