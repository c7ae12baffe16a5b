import Synchronization
@testable import SoftBackend
import VMMKit

/// What stopped `SoftVirtualCPU.step(instructions:)`.
enum SoftStepOutcome: Equatable {
    case completed
    case halted
    /// An exception was raised; in step mode it is reported instead of delivered through the IDT.
    case exception(vector: UInt8, errorCode: UInt32?)
    /// The debugger's breakpoint, watchpoint or single step (`GuestDebugging.armDebugging`).
    case debuggerStop(DebugStopReason)
}

/// Instruction-level access for tests and the differential harness, kept out of the product:
/// it reaches the Soft CPU's internals through `@testable import`.
extension SoftVirtualCPU {
    /// Executes at most `count` instructions (fewer if the guest halts or an exception is raised);
    /// returns what stopped it. Pending interrupts are delivered between instructions as in `run()`.
    func step(instructions count: Int) throws -> SoftStepOutcome {
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
            case let .debugStop(reason):
                return .debuggerStop(reason)
            }
        }
        return .completed
    }

    /// XMM register `index` (0-15) as two 64-bit halves.
    func xmm(_ index: Int) -> (low: UInt64, high: UInt64) {
        let slot = (index & 15) * 2
        return (core.pointee.xmm[slot], core.pointee.xmm[slot + 1])
    }

    func setXMM(_ index: Int, low: UInt64, high: UInt64) {
        let slot = (index & 15) * 2
        core.pointee.xmm[slot] = low
        core.pointee.xmm[slot + 1] = high
    }

    var mxcsr: UInt32 {
        get { core.pointee.mxcsr }
        set { core.pointee.mxcsr = newValue }
    }

    /// The x87 state as bytes 0-159 of an FXSAVE image (legacy 32-bit format, SDM vol. 1, table 10-2).
    func x87Image() -> [UInt8] {
        var image = [UInt8](repeating: 0, count: 160)
        let x87 = core.pointee.x87
        image.withUnsafeMutableBytes { bytes in
            bytes.storeBytes(of: x87.controlWord, toByteOffset: 0, as: UInt16.self)
            bytes.storeBytes(of: x87.statusWord, toByteOffset: 2, as: UInt16.self)
            bytes.storeBytes(of: x87.tagWord, toByteOffset: 4, as: UInt8.self)
            bytes.storeBytes(of: x87.lastOpcode, toByteOffset: 6, as: UInt16.self)
            bytes.storeBytes(of: x87.lastInstructionPointer, toByteOffset: 8, as: UInt64.self)
            bytes.storeBytes(of: x87.lastDataPointer, toByteOffset: 16, as: UInt64.self)
            for index in 0..<8 {
                bytes.storeBytes(of: core.pointee.x87Registers[index * 2], toByteOffset: 32 + index * 16, as: UInt64.self)
                bytes.storeBytes(of: UInt16(truncatingIfNeeded: core.pointee.x87Registers[index * 2 + 1]),
                                 toByteOffset: 40 + index * 16, as: UInt16.self)
            }
        }
        return image
    }

    /// Loads the x87 state from bytes 0-159 of an FXSAVE image (shorter arrays are ignored).
    func setX87Image(_ image: [UInt8]) {
        guard image.count >= 160 else { return }
        image.withUnsafeBytes { bytes in
            core.pointee.x87.controlWord = bytes.loadUnaligned(fromByteOffset: 0, as: UInt16.self)
            core.pointee.x87.statusWord = bytes.loadUnaligned(fromByteOffset: 2, as: UInt16.self)
            core.pointee.x87.tagWord = bytes[4]
            core.pointee.x87.lastOpcode = bytes.loadUnaligned(fromByteOffset: 6, as: UInt16.self)
            core.pointee.x87.lastInstructionPointer = bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            core.pointee.x87.lastDataPointer = bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self)
            for index in 0..<8 {
                core.pointee.x87Registers[index * 2] = bytes.loadUnaligned(fromByteOffset: 32 + index * 16, as: UInt64.self)
                core.pointee.x87Registers[index * 2 + 1] = UInt64(bytes.loadUnaligned(fromByteOffset: 40 + index * 16, as: UInt16.self))
            }
        }
    }

    var instructionsRetired: UInt64 { core.pointee.instructionsRetired }

    /// Page walks that filled a software-TLB entry since creation.
    var tlbRefills: UInt64 { core.pointee.tlb.refills }

    /// The CR3-keyed TLB sets (on by default; `VMM_SOFT_CR3_CACHE=0` turns them off per process).
    var cr3CacheEnabled: Bool {
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
    var translationEnabled: Bool {
        get { core.pointee.native.enabled }
        set { core.pointee.native.enabled = newValue && core.pointee.native.canTranslate }
    }

    /// Lookups of a block before it is translated; 1 translates a block the first time it is seen.
    var translationThreshold: Int {
        get { Int(core.pointee.native.threshold) }
        set { core.pointee.native.threshold = Int32(clamping: max(newValue, 1)) }
    }

    /// Blocks translated since creation (including any dropped by a code-cache flush since).
    var translatedBlocks: Int { core.pointee.native.translatedBlocks }

    /// Guest instructions retired by translated code since creation.
    var nativeInstructionsRetired: UInt64 { core.pointee.native.nativeInstructions }

    /// Calls from the run loop into translated code; blocks that chain to each other need none.
    var translatedCodeCalls: UInt64 { core.pointee.native.calls }
}

extension SoftBackend {
    /// A vCPU usable without `Machine.run`, for instruction-level tests. It starts in the reset state
    /// (real mode at F000:FFF0); set registers before stepping. Uses the machine's memory, buses and hooks.
    func makeStandaloneVCPU(machine: Machine) throws -> SoftVirtualCPU {
        guard machine.interruptControllerPlacement == .userspace else {
            throw SoftBackendError.inKernelInterruptController
        }
        return SoftVirtualCPU(machine: machine, index: 0, code: SharedCodeMap(memory: machine.memory),
                              translatesHotBlocks: translatesHotBlocks)
    }
}
