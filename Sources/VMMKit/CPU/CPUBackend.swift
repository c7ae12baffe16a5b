/// Whether a backend can run guests on this host, and how well.
public enum BackendAvailability: Sendable, Equatable {
    /// Runs guests at full speed (KVM on VT-x/AMD-V; the Soft CPU always says `.usable`).
    case preferred(String)
    /// Works, but another backend is the better default here (PVM-flavoured KVM, for example).
    case usable(String)
    case unavailable(String)

    public var reason: String {
        switch self {
        case let .preferred(reason), let .usable(reason), let .unavailable(reason): return reason
        }
    }
}

/// A CPU backend: the thing that executes guest instructions (QEMU's accelerator split: accel/kvm
/// versus accel/tcg behind one interface).
public protocol CPUBackend: AnyObject {
    /// The name `--backend` takes.
    static var name: String { get }
    /// A line for `--list-backends`.
    static var summary: String { get }

    init()

    /// Probes the host without side effects.
    func availability() -> BackendAvailability

    /// Creates a VM whose guest memory, buses and hooks are `machine`'s.
    func createVM(for machine: Machine) throws -> any VirtualMachine

    /// Whether the backend can run a machine whose interrupt controllers sit at `placement`.
    func supports(_ placement: InterruptControllerPlacement) -> Bool
}

extension CPUBackend {
    /// A backend has the userspace controllers the board provides, and no in-kernel ones of its own
    /// unless it says so.
    public func supports(_ placement: InterruptControllerPlacement) -> Bool { placement == .userspace }
}

/// One VM instance of a backend.
public protocol VirtualMachine: AnyObject {
    /// The backend's own interrupt controllers, when the machine asked for them
    /// (`InterruptControllerPlacement.inKernel`): the machine connects its IRQ lines there before
    /// the vCPUs start, and the backend then delivers interrupts itself. Nil otherwise.
    var inKernelInterruptSink: (any InterruptSink)? { get }

    /// Creates vCPU `index`; creating the same index twice is an error.
    func createVCPU(index: Int) throws -> any VirtualCPU
}

/// One virtual CPU. `run()` is called on the vCPU's own thread; everything else may be called from
/// that thread while the vCPU is not running, except `kick()`, which any thread may call at any time.
public protocol VirtualCPU: AnyObject {
    var index: Int { get }
    var statistics: ExitStatistics { get }

    func generalRegisters() throws -> GeneralRegisters
    func setGeneralRegisters(_ registers: GeneralRegisters) throws
    func systemRegisters() throws -> SystemRegisters
    func setSystemRegisters(_ registers: SystemRegisters) throws
    /// The x87 and SSE state, for a debugger.
    func floatingPointRegisters() throws -> FloatingPointRegisters
    func debugRegisters() throws -> DebugRegisters
    func setDebugRegisters(_ registers: DebugRegisters) throws
    func readMSR(_ index: UInt32) throws -> UInt64
    func writeMSR(_ index: UInt32, value: UInt64) throws

    /// Queues an exception for delivery at the next entry (SDM vol. 3, 6.15).
    func injectException(vector: UInt8, errorCode: UInt32?) throws

    /// Runs guest code, handling port I/O, MMIO, MSR and CPUID accesses through the machine,
    /// until something the machine must act on happens.
    func run() throws -> VCPUStop

    /// Makes a running `run()` look at the machine promptly: a stop request or a newly pending
    /// interrupt. Safe from any thread.
    func kick()
}
