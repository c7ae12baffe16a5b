import Synchronization
import VMMKit

/// The PC's keyboard controller at ports 0x60 (data) and 0x64 (status and command), IRQ 1: what
/// Linux's i8042 driver probes (self-test, the command byte, a keyboard on the first port), and
/// the reset line it pulses with 0xFE, the oldest way to reset a PC (Linux's `reboot=k`).
/// Register behaviour is `I8042Controller`'s; here the lock, IRQ 1, and the reset request.
public final class I8042: Device, BusDevice, @unchecked Sendable {
    public static let dataPort: UInt64 = 0x60
    public static let commandPort: UInt64 = 0x64
    public static let irq = 1
    public static let defaultName = "i8042"

    public let name = I8042.defaultName
    private let state = Mutex(I8042Controller())
    private var line: DeferredIRQLine?
    private var runControl: RunControl?

    public init() {}

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: Self.dataPort, length: 1, by: self, name: name + " data")
        try machine.ports.claim(base: Self.commandPort, length: 1, by: self, name: name + " command")
        line = DeferredIRQLine(try machine.claimIRQLine(Self.irq, by: name))
        runControl = machine.runControl
    }

    public func reset() { change { $0 = I8042Controller(); return .none } }

    public func read(_ access: BusAccess) -> UInt64 {
        var value: UInt8 = 0
        change { controller in
            value = access.address == Self.dataPort ? controller.readData() : controller.status
            return .none
        }
        return UInt64(value)
    }

    public func write(_ access: BusAccess, value: UInt64) {
        let byte = UInt8(truncatingIfNeeded: value)
        change { controller in
            access.address == Self.dataPort ? controller.writeData(byte) : controller.writeCommand(byte)
        }
    }

    /// Applies `body` under the lock, then drives IRQ 1 and requests a reset with the lock released.
    private func change(_ body: (inout I8042Controller) -> I8042Controller.Effect) {
        let effect = state.withLock { controller in
            let effect = body(&controller)
            line?.request(high: controller.interruptRequested)
            return effect
        }
        line?.settle()
        if effect == .resetRequested { runControl?.requestReset() }
    }
}
