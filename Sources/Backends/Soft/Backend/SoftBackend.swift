import VMMKit

/// The software x86-64 CPU: runs anywhere, no VT needed (QEMU TCG's place in the backend split).
public final class SoftBackend: CPUBackend {
    public static let name = "soft"
    public static let summary = "a software x86-64 CPU written in Swift (no hardware virtualization needed)"

    /// Whether hot blocks of 64-bit code are translated to host code (`Translate/`); false runs every
    /// instruction in the interpreter. `VMM_SOFT_JIT=0` turns translation off for the whole process.
    public let translatesHotBlocks: Bool

    public init(translatesHotBlocks: Bool) {
        self.translatesHotBlocks = translatesHotBlocks
    }

    public convenience init() {
        self.init(translatesHotBlocks: true)
    }

    /// Whether this process can translate at all: an x86-64 host with LAHF/SAHF in 64-bit mode, and
    /// `VMM_SOFT_JIT` not 0.
    public static var translationAvailable: Bool {
        NativeCode.hostSupportsTranslation && NativeCode.enabledByEnvironment
    }

    public func availability() -> BackendAvailability {
        .preferred("a software x86-64 CPU: runs anywhere, no VT needed")
    }

    public func createVM(for machine: Machine) throws -> any VirtualMachine {
        try SoftVirtualMachine(machine: machine, translatesHotBlocks: translatesHotBlocks)
    }
}

/// Errors of the Soft backend, one line each.
public enum SoftBackendError: VMMError, Equatable {
    case inKernelInterruptController
    case duplicateVCPU(Int)
    case invalidVCPUIndex(Int, count: Int)
    case unsupportedMSR(UInt32)
    case unsupportedInjection(vector: UInt8)

    public var description: String {
        switch self {
        case .inKernelInterruptController:
            return "the soft backend always uses the userspace interrupt controllers (choose --irqchip user)"
        case let .duplicateVCPU(index): return "soft backend: vCPU \(index) was already created"
        case let .invalidVCPUIndex(index, count): return "soft backend: vCPU index \(index) outside 0..<\(count)"
        case let .unsupportedMSR(index): return "soft backend: MSR 0x\(String(index, radix: 16)) is not implemented"
        case let .unsupportedInjection(vector): return "soft backend: cannot inject vector \(vector)"
        }
    }
}

/// A VM of the Soft backend: just the machine and the vCPUs created so far.
final class SoftVirtualMachine: VirtualMachine, GuestDebugging {
    private let machine: Machine
    private var created: [SoftVirtualCPU] = []
    private let code: SharedCodeMap
    private let translatesHotBlocks: Bool

    init(machine: Machine, translatesHotBlocks: Bool) throws {
        guard machine.interruptControllerPlacement == .userspace else {
            throw SoftBackendError.inKernelInterruptController
        }
        self.machine = machine
        self.translatesHotBlocks = translatesHotBlocks
        code = SharedCodeMap(memory: machine.memory)
        // The decoder's VMCALL/VMMCALL end in CPUCore.hypercall, which asks a claiming device first.
        machine.hypercalls.instructionReachesHandler = true
    }

    /// The Soft CPU has no controllers of its own: it takes interrupts from the machine's source.
    var inKernelInterruptSink: (any InterruptSink)? { nil }

    func createVCPU(index: Int) throws -> any VirtualCPU {
        guard index >= 0, index < machine.vcpuCount else {
            throw SoftBackendError.invalidVCPUIndex(index, count: machine.vcpuCount)
        }
        guard !created.contains(where: { $0.index == index }) else { throw SoftBackendError.duplicateVCPU(index) }
        let vcpu = SoftVirtualCPU(machine: machine, index: index, code: code, translatesHotBlocks: translatesHotBlocks)
        created.append(vcpu)
        return vcpu
    }

    // MARK: the debugger (every vCPU parked; see `GuestDebugging`)

    func armDebugging(_ breakpoints: DebugBreakpoints, stepping: Int?) throws {
        for vcpu in created { vcpu.core.pointee.armDebugger(breakpoints, singleStep: vcpu.index == stepping) }
    }

    /// Nothing of the Soft CPU's breakpoints is in guest memory.
    func disarmDebugging() {}

    /// Decoded and translated code may be stale, and so may cached translations if page tables were
    /// written: every vCPU drops both.
    func debuggerWroteMemory(physical: UInt64, length: Int) {
        for vcpu in created {
            vcpu.core.pointee.flushCodeCache()
            vcpu.core.pointee.tlb.flushAll()
        }
    }
}
