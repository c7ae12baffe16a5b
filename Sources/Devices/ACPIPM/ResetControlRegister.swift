import Synchronization
import VMMKit

/// The chipset's reset control register at port 0xCF9 (the RC register of Intel's PIIX3/PIIX4
/// datasheets; the ICH's RST_CNT keeps the layout), which the FADT's RESET_REG also names, as QEMU's q35 FADT
/// does: a write with RST_CPU (bit 2) set resets the machine, whatever SYS_RST (bit 1, hard versus
/// soft) and FULL_RST (bit 3, the ICH's power cycle) say, since vmm's reset is the same for all.
/// SYS_RST and FULL_RST read back as written; RST_CPU is a strobe and reads zero. Linux's
/// `reboot=pci` writes SYS_RST first and then SYS_RST | RST_CPU (arch/x86/kernel/reboot.c).
///
/// Only a byte register at 0xCF9: the PCI configuration ports around it (0xCF8 and 0xCFC, dword
/// accesses) are another device's.
public final class ResetControlRegister: Device, BusDevice, @unchecked Sendable {
    public static let port: UInt64 = 0xCF9
    public static let resetCPU: UInt8 = 1 << 2
    public static let systemReset: UInt8 = 1 << 1
    public static let fullReset: UInt8 = 1 << 3
    /// The value the FADT tells the OS to write for a reset: a hard reset (SYS_RST | RST_CPU).
    public static let resetValue: UInt8 = systemReset | resetCPU

    public let name = "reset-control"
    private let stored = Mutex<UInt8>(0)
    private var runControl: RunControl?

    public init() {}

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: Self.port, length: 1, by: self, name: name)
        runControl = machine.runControl
    }

    public func reset() { stored.withLock { $0 = 0 } }

    public func read(_ access: BusAccess) -> UInt64 { UInt64(stored.withLock { $0 }) }

    public func write(_ access: BusAccess, value: UInt64) {
        let byte = UInt8(truncatingIfNeeded: value)
        stored.withLock { $0 = byte & (Self.systemReset | Self.fullReset) }
        if byte & Self.resetCPU != 0 { runControl?.requestReset() }
    }
}
