import ACPIPM
import DebugExit
import HostIO
import I8042
import PCI
import RTC
import Serial16550
import TestDevice
import VhostUserDevices
import VirtioBlock
import VirtioRNG
import XenHVM
import VMMKit
import KernelLoading

/// Wires a standard PC from a `MachineDescription`: RAM, the interrupt controllers, COM1, the
/// debug-exit port, the RTC, ACPI (tables, PM registers and the reset register), the keyboard
/// controller, the extra devices asked for, and the kernel loaded with vCPU 0's entry state.
public enum PCBoard {
    /// Builds the machine. Anything attached before a failure is stopped again, so a bad device
    /// specification or kernel leaves no thread running and the terminal as it was.
    public static func assemble(_ description: MachineDescription, registry: DeviceRegistry) throws -> Machine {
        let machine = try Machine(memorySize: description.memorySize, vcpuCount: description.cpus)
        do {
            machine.interruptControllerPlacement = description.interruptControllerPlacement
            machine.paravirtual = description.paravirtual
            reserveFixedIRQLines(of: machine)
            try attachInterruptControllers(to: machine)
            try machine.add(DebugExit())
            try machine.add(ACPIPowerManagement())
            try machine.add(ResetControlRegister())
            try machine.add(I8042())
            // Before the extra devices: a PCI device plugs itself into the bridge when attached.
            let pciHost = PCIHostBridge(windows: pciWindows(above: machine.memory))
            try machine.add(pciHost)
            for specification in description.devices {
                try machine.add(registry.makeDevice(specification))
            }
            // Every PC has its RTC; one the user configured with `--device rtc` takes its place.
            if machine.device(named: MC146818.defaultName) == nil {
                let sharedTimers = machine.devices.lazy.compactMap { ($0 as? PCInterruptController)?.timers }.first
                try machine.add(MC146818(timers: sharedTimers))
            }
            // What RAM holds at power-on, written again after every guest reset.
            let reload = { (machine: Machine) throws -> BootState in
                try ACPITables.write(into: machine.memory, cpus: machine.vcpuCount, pci: pciHost.windows)
                return try KernelLoader.load(kernelAt: description.kernelPath, into: machine,
                                             commandLine: description.commandLine, modules: description.bootModules)
                    .bootState
            }
            machine.bootState = try reload(machine)
            machine.reload = reload
            machine.rebootPolicy = description.rebootPolicy
            // COM1 last: with `--serial stdio` it puts the terminal in raw mode and starts reading
            // stdin, which should only happen once everything else is known to be in order.
            try machine.add(try makeCOM1(description, machine: machine))
        } catch {
            machine.devices.forEach { $0.stop() }
            throw error
        }
        return machine
    }

    /// The PCI host bridge's windows in the MMIO hole below 4 GiB: ECAM for bus 0 at its start,
    /// and BARs from 3.5 GiB up to the IOAPIC at 0xFEC00000, leaving 0xC0100000-0xDFFFFFFF to
    /// fixed devices (the test device's default page at 0xD0000000).
    public static let pciWindows = PCIAddressWindows(
        configurationBase: PCMemoryMap.mmioHoleStart, memory32: 0xE000_0000..<UInt64(ACPITables.ioAPICAddress))

    /// 16 GiB for 64-bit BARs from the first GiB boundary above RAM (and above 4 GiB).
    static let memory64WindowSize: UInt64 = 16 << 30
    /// Where the 64-bit window must end: 64 GiB, the smallest physical address space an x86-64
    /// processor has (36 bits), so the window is reachable on any host KVM runs on.
    static let memory64WindowLimit: UInt64 = 1 << 36

    /// `pciWindows` with the 64-bit window above `memory`'s RAM, where it fits below the limit.
    public static func pciWindows(above memory: GuestMemory) -> PCIAddressWindows {
        var windows = pciWindows
        let top = max(PCMemoryMap.highMemoryStart, memory.regions.map(\.guestEnd).max() ?? 0)
        let start = (top + (1 << 30) - 1) & ~((1 << 30) - 1)
        if start + memory64WindowSize <= memory64WindowLimit { windows.memory64 = start..<start + memory64WindowSize }
        return windows
    }

    /// The PC's fixed ISA lines (IBM PC/AT assignments; the SCI as ACPITables gives it), kept from
    /// devices the user adds: such a device that asks for one is refused with the owner's name.
    private static func reserveFixedIRQLines(of machine: Machine) {
        machine.reserveIRQLine(0, for: "i8254")
        machine.reserveIRQLine(I8042.irq, for: I8042.defaultName)
        machine.reserveIRQLine(2, for: "the PIC cascade")
        machine.reserveIRQLine(4, for: comName)
        machine.reserveIRQLine(8, for: MC146818.defaultName)
        machine.reserveIRQLine(Int(ACPITables.sciIRQ), for: "the ACPI SCI")
    }

    /// COM1 on its host endpoint; reading a terminal, the console escape comes between the two.
    private static func makeCOM1(_ description: MachineDescription, machine: Machine) throws -> Serial16550 {
        let serial = description.serial
        let output = try serial.makeOutput()
        let input = serial.makeInput()
        guard let input, let escape = description.escape, ConsoleInput.standardInputIsTerminal else {
            return Serial16550(name: comName, output: output, input: input)
        }
        let runControl = machine.runControl
        let console = ConsoleInput(wrapping: input, escape: escape, commands: ConsoleInput.Commands(
            quit: { runControl.requestStop(.quit("quit from the console (\(ConsoleInput.keyName(escape)) x)")) },
            sendBreak: {}, statistics: { "vmm: no statistics in this run" }))
        let uart = Serial16550(name: comName, output: output, input: console)
        console.update { (commands: inout ConsoleInput.Commands) in commands.sendBreak = { [unowned uart] in uart.receiveBreak() } }
        return uart
    }

    static let comName = "COM1"

    /// Where COM1's output goes, when it is a host output (stdout or a file) the board made.
    public static func consoleOutput(of machine: Machine) -> ConsoleOutput? {
        (machine.device(named: comName) as? Serial16550)?.output as? ConsoleOutput
    }

    /// The console escape in front of COM1, when it reads a terminal; the command line gives it
    /// its statistics report.
    public static func console(of machine: Machine) -> ConsoleInput? {
        (machine.device(named: comName) as? Serial16550)?.input as? ConsoleInput
    }

    /// The device types built into vmm, for `--device` and `--list-devices`.
    public static let builtInDeviceTypes: [DeviceType] = [
        serialDeviceType,
        DebugExit.deviceType,
        TestDevice.deviceType,
        MC146818.deviceType,
        VirtioEntropy.deviceType,
        VirtioBlock.deviceType,
        VhostUserFileSystem.deviceType,
        VhostUserBlock.deviceType,
        XenHVM.deviceType,
        networkDeviceType,
    ]

    /// A registry holding the built-in device types and then `additional` ones (a program embedding
    /// vmm adds its own devices this way); a name registered twice is an error.
    public static func deviceRegistry(adding additional: [DeviceType] = []) throws -> DeviceRegistry {
        var registry = DeviceRegistry()
        for type in builtInDeviceTypes + additional { try registry.register(type) }
        return registry
    }
}
