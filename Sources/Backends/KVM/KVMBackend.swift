import VMMKit

/// The CPU backend that runs guests through Linux KVM (/dev/kvm).
public final class KVMBackend: CPUBackend {
    public static let name = "kvm"
    public static let summary = "Linux KVM (/dev/kvm): guest code runs on the host CPU"

    public init() {}

    /// `.preferred` on VT-x/AMD-V; `.usable` on a PVM host, where supervisor code crawls through
    /// KVM's instruction emulator; `.unavailable` when /dev/kvm cannot be used at all.
    public func availability() -> BackendAvailability {
        do {
            let system = try KVMSystem()
            try system.requireBaseline()
        } catch {
            return .unavailable(error.description)
        }
        switch KVMHostFlavour.detect() {
        case let .hardware(name):
            return .preferred("KVM on \(name)")
        case let .pvm(reason):
            return .usable("KVM here is PVM (\(reason)): guest user mode runs natively but every "
                + "supervisor-mode instruction is emulated by KVM, far slower than hardware virtualization")
        }
    }

    /// vmm's userspace controllers, or KVM's in-kernel irqchip and PIT.
    public func supports(_ placement: InterruptControllerPlacement) -> Bool { true }

    public func createVM(for machine: Machine) throws -> any VirtualMachine {
        try KVMVirtualMachine(machine: machine, system: KVMSystem())
    }
}
