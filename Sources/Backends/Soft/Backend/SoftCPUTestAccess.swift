import Synchronization
import VMMKit

/// What stopped `SoftVirtualCPU.step(instructions:)`.
public enum SoftStepOutcome: Equatable {
    case completed
    case halted
    /// An exception was raised; in step mode it is reported instead of delivered through the IDT.
    case exception(vector: UInt8, errorCode: UInt32?)
}

/// Instruction-level access for tests and the differential harness: a stable API.
extension SoftVirtualCPU {
    /// Executes at most `count` instructions (fewer if the guest halts or an exception is raised);
    /// returns what stopped it. Pending interrupts are delivered between instructions as in `run()`.
    public func step(instructions count: Int) throws -> SoftStepOutcome {
        core.pointee.reportExceptions = true
        // Between calls the vCPU runs nothing: away for other vCPUs' exclusive sections, as in `run()`.
        defer {
            core.pointee.reportExceptions = false
            signals.away.store(true, ordering: .sequentiallyConsistent)
        }
        resumeGuest()
        var remaining = UInt64(max(count, 0))
        while remaining > 0 {
            let before = core.pointee.instructionsRetired
            let exit = core.pointee.run(budget: Int(min(remaining, UInt64(Int.max))))
            remaining -= min(remaining, core.pointee.instructionsRetired &- before)
            switch exit {
            case .budgetExhausted:
                return core.pointee.halted ? .halted : .completed
            case .halted:
                return .halted
            case let .exception(fault):
                return .exception(vector: fault.vector, errorCode: fault.hasErrorCode ? fault.errorCode : nil)
            case .attention:
                if service() != nil { return .completed }
            case .tripleFault:
                return .exception(vector: Fault.doubleFault, errorCode: 0)
            }
        }
        return .completed
    }

    /// XMM register `index` (0-15) as two 64-bit halves.
    public func xmm(_ index: Int) -> (low: UInt64, high: UInt64) {
        let slot = (index & 15) * 2
        return (core.pointee.xmm[slot], core.pointee.xmm[slot + 1])
    }

    public func setXMM(_ index: Int, low: UInt64, high: UInt64) {
        let slot = (index & 15) * 2
        core.pointee.xmm[slot] = low
        core.pointee.xmm[slot + 1] = high
    }

    public var instructionsRetired: UInt64 { core.pointee.instructionsRetired }

    /// Page walks that filled a software-TLB entry since creation.
    public var tlbRefills: UInt64 { core.pointee.tlb.refills }

    /// The CR3-keyed TLB sets (on by default; `VMM_SOFT_CR3_CACHE=0` turns them off per process).
    public var cr3CacheEnabled: Bool {
        get { core.pointee.tlb.cr3CacheEnabled }
        set {
            core.pointee.tlb.cr3CacheEnabled = newValue
            core.pointee.tlb.flushAll()
            core.pointee.writeCR3(core.pointee.cr3)
        }
    }
}

/// The block translator (`Translate/`), for tests that must know their code really ran natively.
extension SoftVirtualCPU {
    /// Whether hot blocks are translated to host code (off without x86-64 host support, or with
    /// `VMM_SOFT_JIT=0`). Turning it on where the host can't is ignored.
    public var translationEnabled: Bool {
        get { core.pointee.native.enabled }
        set { core.pointee.native.enabled = newValue && core.pointee.native.canTranslate }
    }

    /// Lookups of a block before it is translated; 1 translates a block the first time it is seen.
    public var translationThreshold: Int {
        get { Int(core.pointee.native.threshold) }
        set { core.pointee.native.threshold = Int32(clamping: max(newValue, 1)) }
    }

    /// Blocks translated since creation (including any dropped by a code-cache flush since).
    public var translatedBlocks: Int { core.pointee.native.translatedBlocks }

    /// Guest instructions retired by translated code since creation.
    public var nativeInstructionsRetired: UInt64 { core.pointee.native.nativeInstructions }

    /// Calls from the run loop into translated code; blocks that chain to each other need none.
    public var translatedCodeCalls: UInt64 { core.pointee.native.calls }
}

extension SoftBackend {
    /// A vCPU usable without `Machine.run`, for instruction-level tests. It starts in the reset state
    /// (real mode at F000:FFF0); set registers before stepping. Uses the machine's memory, buses and hooks.
    public func makeStandaloneVCPU(machine: Machine) throws -> SoftVirtualCPU {
        guard machine.interruptControllerPlacement == .userspace else {
            throw SoftBackendError.inKernelInterruptController
        }
        return SoftVirtualCPU(machine: machine, index: 0, code: SharedCodeMap(memory: machine.memory),
                              translatesHotBlocks: translatesHotBlocks)
    }
}
