import ACPIPM
import DebugExit
import HostIO
import RTC
import Serial16550
import TestDevice
import VMMKit
import KernelLoading

/// Wires a standard PC from a `MachineDescription`: RAM, the interrupt controllers, COM1, the
/// debug-exit port, the RTC, ACPI (tables and PM registers), the extra devices asked for, and the
/// kernel loaded with vCPU 0's entry state.
public enum PCBoard {
    /// Builds the machine. Anything attached before a failure is stopped again, so a bad device
    /// specification or kernel leaves no thread running and the terminal as it was.
    public static func assemble(_ description: MachineDescription, registry: DeviceRegistry) throws -> Machine {
        let machine = try Machine(memorySize: description.memorySize, vcpuCount: description.cpus)
        do {
            machine.interruptControllerPlacement = description.interruptControllerPlacement
            try attachInterruptControllers(to: machine)
            try machine.add(DebugExit())
            try machine.add(ACPIPowerManagement())
            for specification in description.devices {
                try machine.add(registry.makeDevice(specification))
            }
            // Every PC has its RTC; one the user configured with `--device rtc` takes its place.
            if machine.device(named: MC146818.defaultName) == nil {
                let sharedTimers = machine.devices.lazy.compactMap { ($0 as? PCInterruptController)?.timers }.first
                try machine.add(MC146818(timers: sharedTimers))
            }
            try ACPITables.write(into: machine.memory, cpus: machine.vcpuCount)
            let kernel = try KernelLoader.load(kernelAt: description.kernelPath, into: machine,
                                               commandLine: description.commandLine, modules: description.bootModules)
            machine.bootState = kernel.bootState
            // COM1 last: with `--serial stdio` it puts the terminal in raw mode and starts reading
            // stdin, which should only happen once everything else is known to be in order.
            try machine.add(try makeCOM1(description, machine: machine))
        } catch {
            machine.devices.forEach { $0.stop() }
            throw error
        }
        return machine
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
    ]

    /// A registry holding the built-in device types and then `additional` ones (a program embedding
    /// vmm adds its own devices this way); a name registered twice is an error.
    public static func deviceRegistry(adding additional: [DeviceType] = []) throws -> DeviceRegistry {
        var registry = DeviceRegistry()
        for type in builtInDeviceTypes + additional { try registry.register(type) }
        return registry
    }
}
