import ACPIPM
import DebugExit
import HostIO
import I8042
import RTC
import Serial16550
import TestDevice
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
            try attachInterruptControllers(to: machine)
            try machine.add(DebugExit())
            try machine.add(ACPIPowerManagement())
            try machine.add(ResetControlRegister())
            try machine.add(I8042())
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
                try ACPITables.write(into: machine.memory, cpus: machine.vcpuCount)
                return try KernelLoader.load(kernelAt: description.kernelPath, into: machine,
                                             commandLine: description.commandLine, modules: description.bootModules)
                    .bootState
            }
            machine.bootState = try reload(machine)
            machine.reload = reload
            machine.rebootPolicy = description.rebootPolicy
            // COM1 last: with `--serial stdio` it puts the terminal in raw mode and starts reading
            // stdin, which should only happen once everything else is known to be in order.
            let serial = description.serial
            try machine.add(Serial16550(name: "COM1", output: try serial.makeOutput(), input: serial.makeInput()))
        } catch {
            machine.devices.forEach { $0.stop() }
            throw error
        }
        return machine
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
