import Synchronization

/// A PC-shaped machine: guest memory, the two buses, MSR and CPUID hooks, interrupt lines and the
/// devices attached to them. A backend executes it; the machine does not know which one.
///
/// Assembly (adding devices, choosing the interrupt controller, loading the kernel) happens on one
/// thread before `run`; after that the buses are frozen and only devices' own locked state changes.
public final class Machine {
    public let vcpuCount: Int
    public let memory: GuestMemory
    public let ports = IOBus(name: "port I/O bus", space: .port)
    public let mmio = IOBus(name: "MMIO bus", space: .mmio)
    public let msrs = MSRHooks()
    public let cpuid = CPUIDHooks()
    public let hypercalls = HypercallHooks()
    public let runControl = RunControl()
    /// Stops and resumes the vCPUs for a debugger (`--gdb`); idle unless one asks.
    public let debugControl: DebugControl
    /// The debugger's breakpoints and watchpoints, armed again on every boot's new VM.
    public var debugBreakpoints = DebugBreakpoints()
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
    /// The KVM paravirtual interfaces the guest is offered (`--pv`), set during assembly.
    public var paravirtual = ParavirtualFeatures.all
    /// The register state vCPU 0 starts in, from the kernel loader. Other vCPUs wait for INIT/SIPI.
    public var bootState = BootState()
    public private(set) var devices: [any Device] = []
    /// What the guest finds in RAM at power-on besides zeros (the firmware's tables, the kernel and
    /// its boot information), written again after every reset once RAM is cleared; returns vCPU 0's
    /// entry state. The board sets it; without it a guest reset ends the run.
    public var reload: ((Machine) throws -> BootState)?
    /// Whether a guest reset or a triple fault restarts the machine.
    public var rebootPolicy = RebootPolicy()
    /// How many times the machine was restarted after a guest reset during `run`.
    public private(set) var reboots = 0
    /// The current boot's vCPUs, replaced on every reboot while device threads may be kicking them.
    private let vcpuTable = Mutex<[any VirtualCPU]>([])
    private var vm: (any VirtualMachine)?
    /// The current boot's vCPU counters, published once all its vCPUs exist, and what the earlier
    /// boots' vCPUs counted (per vCPU, per row), for readers on other threads (the console's
    /// statistics key) that must not look at `vcpus` while `run` builds or replaces them.
    private let publishedStatistics = Mutex<(current: [ExitStatistics], earlier: [[UInt64]])>(([], []))
    /// Who each reserved or claimed IRQ line belongs to, and which lines a device has claimed.
    private var irqOwners: [Int: String] = [:]
    private var claimedIRQLines: Set<Int> = []

    public var vcpus: [any VirtualCPU] { vcpuTable.withLock { $0 } }

    /// The current VM's debugger support; for the debugger's thread while every vCPU is parked.
    public var debugging: (any GuestDebugging)? { vm as? any GuestDebugging }

    /// Lays out `memorySize` bytes of RAM: below the MMIO hole at 3 GiB, the rest from 4 GiB.
    public init(memorySize: UInt64, vcpuCount: Int) throws {
        guard (1...64).contains(vcpuCount) else { throw MachineError.invalidCPUCount(vcpuCount) }
        self.vcpuCount = vcpuCount
        vcpuArbitration = VCPUArbitration(vcpuCount: vcpuCount, runControl: runControl)
        debugControl = DebugControl(vcpuCount: vcpuCount, runControl: runControl)
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
        guard let vcpu = vcpuTable.withLock({ index < $0.count ? $0[index] : nil }) else { return }
        vcpu.statistics.kicks.increment()
        vcpu.kick()
    }

    /// Each vCPU's exit statistics rows over every boot, in vCPU order; empty before `run`. Safe
    /// from any thread.
    public var statisticsPerVCPU: [[(String, UInt64)]] { publishedStatistics.withLock { Self.overBoots($0) } }

    /// The current boot's rows with the earlier boots' counts added.
    private static func overBoots(_ published: (current: [ExitStatistics], earlier: [[UInt64]])) -> [[(String, UInt64)]] {
        published.current.enumerated().map { index, statistics in
            let earlier = index < published.earlier.count ? published.earlier[index] : []
            return statistics.rows.enumerated().map { row, entry in
                (entry.0, entry.1 + (row < earlier.count ? earlier[row] : 0))
            }
        }
    }

    /// `ExitStatistics.guestInitiated` summed over the current boot's vCPUs. Safe from any thread.
    public var guestInitiatedExits: UInt64 {
        publishedStatistics.withLock { $0.current }.reduce(0) { $0 + $1.guestInitiated }
    }

    /// Exit statistics summed over all vCPUs of every boot; empty before `run` has made them. Safe
    /// from any thread.
    public var statistics: [(String, UInt64)] {
        let all = statisticsPerVCPU
        guard let first = all.first else { return [] }
        return first.indices.map { row in (first[row].0, all.reduce(0) { $0 + $1[row].1 }) }
    }

    /// Creates the VM on `backend`, starts one host thread per vCPU, and returns when the guest
    /// stops, fails, or `timeout` seconds pass (counted over every boot). A guest reset restarts
    /// the machine in between (`restart`) unless `rebootPolicy` says otherwise; devices keep their
    /// threads across reboots and are stopped only when the run ends.
    public func run(on backend: any CPUBackend, timeout: Double? = nil) throws -> MachineOutcome {
        try boot(on: backend)
        ports.freeze(vcpuCount: vcpuCount)
        mmio.freeze(vcpuCount: vcpuCount)
        let watchdog = try timeout.map { seconds in
            try HostThread(name: "timeout") { [runControl] in
                if !runControl.waitForStop(seconds: seconds) { runControl.requestStop(.timedOut(seconds: seconds)) }
            }
        }
        while true {
            runVCPUs()
            guard runControl.takeReset() else { break }
            guard rebootPolicy.rebootsOnReset, reload != nil else {
                runControl.requestStop(.reset)
                break
            }
            do {
                try restart(on: backend)
            } catch {
                runControl.requestStop(.failed("restarting after the guest's reset: \(error)"))
                break
            }
        }
        runControl.requestStop(.poweredOff)
        debugControl.machineEnded()
        watchdog?.join()
        devices.forEach { $0.stop() }
        return runControl.stopOutcome ?? .poweredOff
    }

    /// A new VM with fresh vCPUs (so no backend state, KVM's in-kernel irqchip included, survives a
    /// reset), vCPU 0 in `bootState`, the others waiting for INIT/SIPI.
    private func boot(on backend: any CPUBackend) throws {
        let vm = try backend.createVM(for: self)
        self.vm = vm
        if let irqchip = vm.inKernelInterruptSink {
            interruptRouter.connect(irqchip)
            interruptSource = nil
        }
        let created = try (0..<vcpuCount).map { try vm.createVCPU(index: $0) }
        try created[0].setSystemRegisters(bootState.system)
        try created[0].setGeneralRegisters(bootState.general)
        vcpuTable.withLock { $0 = created }
        debugControl.vcpusExist(true)
        publishedStatistics.withLock { $0.current = created.map(\.statistics) }
        if !debugBreakpoints.isEmpty { try debugging?.armDebugging(debugBreakpoints, stepping: nil) }
        runControl.onStop { [debugControl] in
            for vcpu in created { vcpu.kick() }
            debugControl.wakeEveryParkedVCPU()
        }
    }

    /// What a PC's hard reset does (the chipset's reset control register, PIIX4's RC: the CPUs and
    /// the chipset start from scratch and the firmware loads the OS again): the VM goes, every
    /// device returns to its power-on state, RAM reads zero (unlike QEMU, which leaves RAM as it
    /// was, as a warm reset does), the board's `reload` writes the kernel again, and the new VM's
    /// BSP starts at its entry. The CMOS RAM is the RTC's battery-backed state and survives, as on
    /// hardware.
    private func restart(on backend: any CPUBackend) throws {
        publishedStatistics.withLock { published in
            published.earlier = Self.overBoots(published).map { $0.map(\.1) }
        }
        runControl.onStop {}
        if vm?.inKernelInterruptSink != nil { interruptRouter.disconnect() }
        debugControl.vcpusExist(false)
        vcpuTable.withLock { $0 = [] }
        vm = nil
        devices.forEach { $0.reset() }
        memory.clearRAM()
        vcpuArbitration.reset()
        if let reload { bootState = try reload(self) }
        reboots += 1
        try boot(on: backend)
    }

    /// One host thread per vCPU until every vCPU's `run()` returned.
    private func runVCPUs() {
        let policy = rebootPolicy
        var threads: [HostThread] = []
        for vcpu in vcpus {
            do {
                threads.append(try HostThread(name: "vcpu\(vcpu.index)") { [runControl, debugControl] in
                    debugControl.enter(vcpu: vcpu.index)
                    defer { debugControl.leave(vcpu: vcpu.index) }
                    do {
                        switch try vcpu.run() {
                        case .machineStopped:
                            break
                        case .haltedForever:
                            // VCPUArbitration returns this only once every vCPU waits on another.
                            runControl.requestStop(.poweredOff)
                        case let .shutdown(dump):
                            if policy.rebootsOnReset && policy.resetsOnTripleFault {
                                runControl.requestReset()
                            } else {
                                runControl.requestStop(.shutdown(vcpu: vcpu.index, registerDump: dump))
                            }
                        case .reset:
                            runControl.requestReset()
                        }
                    } catch {
                        runControl.requestStop(.failed("vCPU \(vcpu.index): \(error)"))
                    }
                })
            } catch {
                runControl.requestStop(.failed("\(error)"))
            }
        }
        threads.forEach { $0.join() }
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
