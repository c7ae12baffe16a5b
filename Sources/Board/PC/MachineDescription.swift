import HostIO
import VMMKit
import KernelLoading

/// Everything that decides what machine vmm builds, as a value: the command line fills one in, a
/// library user may build one directly, and the same value drives either backend.
public struct MachineDescription: Sendable {
    /// The kernel image (ELF, Multiboot or PVH; see `KernelLoader`).
    public var kernelPath: String
    /// Guest RAM in bytes; RAM above the 3 GiB MMIO hole is placed from 4 GiB.
    public var memorySize: UInt64
    public var cpus: Int
    /// The kernel command line.
    public var commandLine: String
    /// An initial ramdisk, handed to the kernel as its first module.
    public var initrd: String?
    /// Further boot modules (Multiboot modules, PVH modlist entries), after the initrd.
    public var modules: [String]
    /// What COM1 is connected to.
    public var serial: ConsoleEndpoint
    /// The console escape key when COM1 reads a terminal (`ConsoleInput`), nil for none.
    public var escape: UInt8?
    /// Extra devices as `NAME,key=value,...` specifications, built through a `DeviceRegistry`.
    public var devices: [String]
    /// Where the PIC/IOAPIC/LAPIC/PIT are emulated.
    public var interruptControllerPlacement: InterruptControllerPlacement
    /// Seconds after which the run is stopped, if any.
    public var timeout: Double?
    /// Whether a guest reset (or a triple fault) restarts the machine.
    public var rebootPolicy = RebootPolicy()
    /// The KVM paravirtual interfaces offered to the guest.
    public var paravirtual = ParavirtualFeatures.all

    public static let defaultMemorySize: UInt64 = 128 << 20

    public init(kernelPath: String, memorySize: UInt64 = defaultMemorySize, cpus: Int = 1, commandLine: String = "",
                initrd: String? = nil, modules: [String] = [], serial: ConsoleEndpoint = .stdio,
                escape: UInt8? = ConsoleInput.defaultEscape, devices: [String] = [], interruptControllerPlacement: InterruptControllerPlacement = .userspace,
                timeout: Double? = nil) {
        self.kernelPath = kernelPath
        self.memorySize = memorySize
        self.cpus = cpus
        self.commandLine = commandLine
        self.initrd = initrd
        self.modules = modules
        self.serial = serial
        self.escape = escape
        self.devices = devices
        self.interruptControllerPlacement = interruptControllerPlacement
        self.timeout = timeout
    }

    /// The initrd first, then the other modules: the order loaders hand them to the kernel.
    public var bootModules: [String] { (initrd.map { [$0] } ?? []) + modules }
}
