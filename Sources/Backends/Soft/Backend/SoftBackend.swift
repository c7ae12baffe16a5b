import VMMKit

/// The software x86-64 CPU: runs anywhere, no VT needed (QEMU TCG's place in the backend split).
public final class SoftBackend: CPUBackend {
    public static let name = "soft"
    public static let summary = "a software x86-64 CPU written in Swift (no hardware virtualization needed)"

    public init() {}

    public func availability() -> BackendAvailability {
        .preferred("a software x86-64 CPU: runs anywhere, no VT needed")
    }

    public func createVM(for machine: Machine) throws -> any VirtualMachine {
        try SoftVirtualMachine(machine: machine)
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
final class SoftVirtualMachine: VirtualMachine {
    private let machine: Machine
    private var created: Set<Int> = []
    private let code: SharedCodeMap

    init(machine: Machine) throws {
        guard machine.interruptControllerPlacement == .userspace else {
            throw SoftBackendError.inKernelInterruptController
        }
        self.machine = machine
        code = SharedCodeMap(memory: machine.memory)
    }

    func createVCPU(index: Int) throws -> any VirtualCPU {
        guard index >= 0, index < machine.vcpuCount else {
            throw SoftBackendError.invalidVCPUIndex(index, count: machine.vcpuCount)
        }
        guard created.insert(index).inserted else { throw SoftBackendError.duplicateVCPU(index) }
        return SoftVirtualCPU(machine: machine, index: index, code: code)
    }
}
