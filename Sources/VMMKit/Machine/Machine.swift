import Synchronization

/// A PC-shaped machine: guest memory, the two buses, MSR and CPUID hooks, interrupt lines and the
/// devices attached to them. A backend executes it; the machine does not know which one.
///
/// Assembly (adding devices, choosing the interrupt controller, loading the kernel) happens on one
/// thread before `run`; after that the buses are frozen and only devices' own locked state changes.
public final class Machine {
    public let vcpuCount: Int
    public let memory: GuestMemory
    public let ports = IOBus(name: "port I/O bus")
    public let mmio = IOBus(name: "MMIO bus")
    public let msrs = MSRHooks()
    public let cpuid = CPUIDHooks()
    public let runControl = RunControl()
    /// Where every device's IRQ lines and MSIs go. The board connects its userspace controllers
    /// during assembly; with `.inKernel` placement `run` connects the VM's in-kernel irqchip.
    public let interruptRouter = InterruptRouter()
    /// Where the vCPUs take interrupts from: set by the board with userspace controllers; nil when
    /// nothing delivers interrupts, or when the backend's in-kernel irqchip does it itself.
    public var interruptSource: (any InterruptSource)?
    /// HLT, wait-for-SIPI and halted-forever, the same for every backend.
    public let vcpuArbitration: VCPUArbitration
    /// Where the PIC/IOAPIC/LAPIC/PIT live: our Swift devices, or KVM's in-kernel irqchip.
    public var interruptControllerPlacement: InterruptControllerPlacement = .userspace
    /// The register state vCPU 0 starts in, from the kernel loader. Other vCPUs wait for INIT/SIPI.
    public var bootState = BootState()
    public private(set) var devices: [any Device] = []
    public private(set) var vcpus: [any VirtualCPU] = []
    /// Every vCPU's counters, published once all vCPUs exist, for readers on other threads (the
    /// console's statistics key) that must not look at `vcpus` while `run` builds it.
    private let publishedStatistics = Mutex<[ExitStatistics]>([])
    /// Who each reserved or claimed IRQ line belongs to, and which lines a device has claimed.
    private var irqOwners: [Int: String] = [:]
    private var claimedIRQLines: Set<Int> = []

    /// Lays out `memorySize` bytes of RAM: below the MMIO hole at 3 GiB, the rest from 4 GiB.
    public init(memorySize: UInt64, vcpuCount: Int) throws {
        guard (1...64).contains(vcpuCount) else { throw MachineError.invalidCPUCount(vcpuCount) }
        self.vcpuCount = vcpuCount
        vcpuArbitration = VCPUArbitration(vcpuCount: vcpuCount, runControl: runControl)
        memory = GuestMemory()
        let low = min(memorySize, PCMemoryMap.mmioHoleStart)
        try memory.addRegion(name: "RAM", at: 0, size: low)
        if memorySize > low {
            try memory.addRegion(name: "high RAM", at: PCMemoryMap.highMemoryStart, size: memorySize - low)
        }
        for region in memory.regions {
            mmio.reserve(base: region.guestBase, length: region.size, as: "guest \(region.name)")
        }
    }

    /// Attaches `device`: it claims its ports, MMIO ranges, IRQ lines and hooks now.
    public func add(_ device: any Device) throws {
        try device.attach(to: self)
        devices.append(device)
    }

    /// The device named `name`, if one is attached.
    public func device(named name: String) -> (any Device)? { devices.first { $0.name == name } }

    /// ISA IRQ / IOAPIC input `number`, unclaimed: for the board and tests. A device claims its
    /// line with `claimIRQLine` instead.
    public func irqLine(_ number: Int) -> IRQLine { IRQLine(number: number, sink: interruptRouter) }

    /// The interrupt controllers' inputs: 24 IOAPIC pins, the first 16 also ISA IRQs on the PICs.
    public static let irqLineCount = 24

    /// Keeps IRQ line `number` for `owner` (a device name, or what the line is used for, such as
    /// the PIC cascade): only a device of that name may claim it. The board reserves the PC's fixed
    /// lines before any device attaches, so a user's device cannot take them first.
    public func reserveIRQLine(_ number: Int, for owner: String) { irqOwners[number] = owner }

    /// Line `number` for the device named `device`, which then drives it alone: an edge-triggered
    /// ISA interrupt cannot be shared (two drivers of one line would lose each other's edges).
    public func claimIRQLine(_ number: Int, by device: String) throws(MachineError) -> IRQLine {
        guard (0..<Self.irqLineCount).contains(number) else {
            throw .irqLineOutOfRange(line: number, device: device, count: Self.irqLineCount)
        }
        if let owner = irqOwners[number], owner != device || claimedIRQLines.contains(number) {
            throw .irqLineTaken(line: number, device: device, owner: owner)
        }
        irqOwners[number] = device
        claimedIRQLines.insert(number)
        return irqLine(number)
    }

    /// Makes vCPU `index` notice a new interrupt or a stop request promptly.
    public func kick(vcpu index: Int) {
        guard index < vcpus.count else { return }
        vcpus[index].statistics.kicks.increment()
        vcpus[index].kick()
    }

    /// Each vCPU's exit statistics rows, in vCPU order; empty before `run`. Safe from any thread.
    public var statisticsPerVCPU: [[(String, UInt64)]] { publishedStatistics.withLock { $0 }.map(\.rows) }

    /// `ExitStatistics.guestInitiated` summed over all vCPUs. Safe from any thread.
    public var guestInitiatedExits: UInt64 { publishedStatistics.withLock { $0 }.reduce(0) { $0 + $1.guestInitiated } }

    /// Exit statistics summed over all vCPUs; empty before `run` has made them. Safe from any thread.
    public var statistics: [(String, UInt64)] {
        let all = publishedStatistics.withLock { $0 }
        guard let first = all.first else { return [] }
        return first.rows.indices.map { row in (first.rows[row].0, all.reduce(0) { $0 + $1.rows[row].1 }) }
    }

    /// Creates the VM on `backend`, starts one host thread per vCPU, and returns when the guest
    /// stops, fails, or `timeout` seconds pass.
    public func run(on backend: any CPUBackend, timeout: Double? = nil) throws -> MachineOutcome {
        let vm = try backend.createVM(for: self)
        if let irqchip = vm.inKernelInterruptSink {
            interruptRouter.connect(irqchip)
            interruptSource = nil
        }
        for index in 0..<vcpuCount { vcpus.append(try vm.createVCPU(index: index)) }
        publishedStatistics.withLock { [vcpus] in $0 = vcpus.map(\.statistics) }
        try vcpus[0].setSystemRegisters(bootState.system)
        try vcpus[0].setGeneralRegisters(bootState.general)
        ports.freeze(vcpuCount: vcpuCount)
        mmio.freeze(vcpuCount: vcpuCount)
        let vcpus = self.vcpus
        runControl.onStop { for vcpu in vcpus { vcpu.kick() } }

        let threads = try vcpus.map { vcpu in
            try HostThread(name: "vcpu\(vcpu.index)") { [runControl] in
                do {
                    switch try vcpu.run() {
                    case .machineStopped:
                        break
                    case .haltedForever:
                        // VCPUArbitration returns this only once every vCPU waits on another.
                        runControl.requestStop(.poweredOff)
                    case let .shutdown(dump):
                        runControl.requestStop(.shutdown(vcpu: vcpu.index, registerDump: dump))
                    case .reset:
                        runControl.requestStop(.reset)
                    }
                } catch {
                    runControl.requestStop(.failed("vCPU \(vcpu.index): \(error)"))
                }
            }
        }
        let watchdog = try timeout.map { seconds in
            try HostThread(name: "timeout") { [runControl] in
                if !runControl.waitForStop(seconds: seconds) { runControl.requestStop(.timedOut(seconds: seconds)) }
            }
        }
        threads.forEach { $0.join() }
        runControl.requestStop(.poweredOff)
        watchdog?.join()
        devices.forEach { $0.stop() }
        return runControl.stopOutcome ?? .poweredOff
    }
}

public enum MachineError: VMMError, Equatable {
    case invalidCPUCount(Int)
    case irqLineOutOfRange(line: Int, device: String, count: Int)
    case irqLineTaken(line: Int, device: String, owner: String)
    public var description: String {
        switch self {
        case let .invalidCPUCount(count): return "invalid vCPU count \(count): vmm supports 1 to 64"
        case let .irqLineOutOfRange(line, device, count):
            return "'\(device)' asks for IRQ \(line): the interrupt controllers have lines 0-\(count - 1)"
        case let .irqLineTaken(line, device, owner):
            return "'\(device)' asks for IRQ \(line), which is \(owner)'s"
        }
    }
}
