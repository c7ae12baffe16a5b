import Synchronization
import VMMKit

/// The root of PCI bus 0: configuration mechanism #1 at ports 0xCF8-0xCFF (PCI Local Bus 3.0,
/// 3.2.2.3.2), ECAM in memory (PCI Express 4.0, 7.2.2), and the memory windows in which it routes
/// accesses to the functions' BARs. Device 0 is the bridge's own function (class 06 00: host
/// bridge), which Linux's check of mechanism #1 looks for (arch/x86/pci/direct.c); devices 1-31
/// are the functions plugged in, function 0 each. Accesses to anything absent read all ones and
/// drop writes, as a master abort does.
///
/// Functions are plugged while the machine is assembled; afterwards the slot table is read-only.
public final class PCIHostBridge: Device, @unchecked Sendable {
    public static let defaultName = "pci-host"
    /// Mechanism #1's address and data ports.
    static let configurationPorts: UInt64 = 0xCF8
    static let slotCount = 32

    public let name = PCIHostBridge.defaultName
    public let windows: PCIAddressWindows
    private var slots: [(any PCIFunction)?] = Array(repeating: nil, count: PCIHostBridge.slotCount)
    private let decoder = BARDecoder()
    private let mechanism1 = Mechanism1Ports()
    private let ecam = ECAMWindow()
    private let memory = MemoryWindow()
    /// The next free address of the 32-bit and the 64-bit window.
    private var nextAddress32: UInt64
    private var nextAddress64: UInt64

    public init(windows: PCIAddressWindows) {
        self.windows = windows
        nextAddress32 = windows.memory32.lowerBound
        nextAddress64 = windows.memory64?.lowerBound ?? 0
        slots[0] = HostBridgeFunction()
        mechanism1.bridge = self
        ecam.bridge = self
        memory.decoder = decoder
    }

    public func attach(to machine: Machine) throws {
        // 0xCF9 is the chipset's reset control register (ACPIPM's ResetControlRegister), a byte
        // register inside the address port's dword, as on PIIX and ICH: mechanism #1 claims around it.
        try machine.ports.claim(base: Self.configurationPorts, length: 1, by: mechanism1, name: name)
        try machine.ports.claim(base: Self.configurationPorts + 2, length: 6, by: mechanism1, name: name + " data")
        try machine.mmio.claim(base: windows.configurationBase, length: PCIAddressWindows.configurationSize,
                               by: ecam, name: name + " ECAM")
        try machine.mmio.claim(base: windows.memory32.lowerBound, length: UInt64(windows.memory32.count),
                               by: memory, name: name + " memory window")
        if let high = windows.memory64 {
            try machine.mmio.claim(base: high.lowerBound, length: high.upperBound - high.lowerBound,
                                   by: memory, name: name + " 64-bit memory window")
        }
    }

    /// The bridge attached to `machine`, which the board adds before any PCI device.
    public static func attached(to machine: Machine) throws(PCIError) -> PCIHostBridge {
        guard let bridge = machine.device(named: defaultName) as? PCIHostBridge else { throw .noHostBridge }
        return bridge
    }

    /// Puts `function` in the first free slot, places its BARs (naturally aligned, as firmware
    /// would: 64-bit ones in the 64-bit window when there is one, the others below 4 GiB) and
    /// enables its memory space; returns the device number.
    @discardableResult
    public func plug(_ function: any PCIFunction) throws(PCIError) -> Int {
        guard let slot = slots.firstIndex(where: { $0 == nil }) else { throw .busFull(function.name) }
        var next32 = nextAddress32, next64 = nextAddress64
        var assignments: [(Int, UInt64)] = []
        for (index, bar) in function.configuration.bars.enumerated() {
            guard let bar else { continue }
            if bar.width == .bits64, let high = windows.memory64 {
                assignments.append((index, try Self.place(bar, after: &next64, in: high, for: function)))
            } else {
                assignments.append((index, try Self.place(bar, after: &next32, in: windows.memory32, for: function)))
            }
        }
        for (index, address) in assignments { function.configuration.assign(bar: index, address: address) }
        function.configuration.enableMemorySpace()
        (nextAddress32, nextAddress64) = (next32, next64)
        slots[slot] = function
        decodingChanged(slot: slot, function: function)
        return slot
    }

    /// The first address at or after `next` aligned to `bar`'s size, if `bar` fits in `window`.
    private static func place(_ bar: PCIBAR, after next: inout UInt64, in window: Range<UInt64>,
                              for function: any PCIFunction) throws(PCIError) -> UInt64 {
        let address = (next + bar.size - 1) & ~(bar.size - 1)
        guard address + bar.size <= window.upperBound else { throw .windowFull(function.name) }
        next = address + bar.size
        return address
    }

    /// The function at `device` of bus 0 (function 0 only), if any.
    public func function(atDevice device: Int) -> (any PCIFunction)? {
        slots.indices.contains(device) ? slots[device] : nil
    }

    private func slot(_ address: PCIConfigurationAddress) -> (any PCIFunction)? {
        guard address.bus == 0, address.function == 0 else { return nil }
        return slots[address.device]
    }

    /// A BAR moved or memory space was toggled: the decoder routes by the new values, and the
    /// function moves what it keeps at fixed BAR offsets outside the decoder (its doorbells).
    private func decodingChanged(slot: Int, function: any PCIFunction) {
        decoder.update(slot: slot, function: function)
        function.decodingChanged()
    }

    func readConfiguration(_ address: PCIConfigurationAddress, size: Int) -> UInt32 {
        guard let function = slot(address) else { return UInt32(truncatingIfNeeded: allOnes(size)) }
        return function.readConfiguration(offset: address.register, size: size)
    }

    func writeConfiguration(_ address: PCIConfigurationAddress, size: Int, value: UInt32) {
        guard let function = slot(address) else { return }
        function.configuration.write(offset: address.register, size: size, value: value)
        if PCIConfigurationSpace.affectsDecoding(offset: address.register, size: size) {
            decodingChanged(slot: address.device, function: function)
        }
        function.configurationWritten(offset: address.register, size: size)
    }
}

/// Ports 0xCF8-0xCFF: the 32-bit address register, then the data window onto the dword it names.
/// Only a dword access reaches the address register (3.2.2.3.2); other sizes at 0xCF8-0xCFB are
/// someone else's (the old mechanism #2 registers, the reset control register at 0xCF9) and
/// ignored. Claimed in two pieces around 0xCF9, so offsets count from 0xCF8, not from the claim.
final class Mechanism1Ports: BusDevice, @unchecked Sendable {
    unowned(unsafe) var bridge: PCIHostBridge!
    private let address = Atomic<UInt32>(0)

    func read(_ access: BusAccess) -> UInt64 {
        let offset = access.address - PCIHostBridge.configurationPorts
        if offset < 4 {
            return offset == 0 && access.size == 4 ? UInt64(address.load(ordering: .relaxed)) : allOnes(access.size)
        }
        guard let target = PCIConfigurationAddress(mechanism1: address.load(ordering: .relaxed), byteInData: Int(offset - 4)),
              Int(offset - 4) + access.size <= 4 else { return allOnes(access.size) }
        return UInt64(bridge.readConfiguration(target, size: access.size))
    }

    func write(_ access: BusAccess, value: UInt64) {
        let offset = access.address - PCIHostBridge.configurationPorts
        if offset < 4 {
            if offset == 0 && access.size == 4 { address.store(UInt32(truncatingIfNeeded: value), ordering: .relaxed) }
            return
        }
        guard let target = PCIConfigurationAddress(mechanism1: address.load(ordering: .relaxed), byteInData: Int(offset - 4)),
              Int(offset - 4) + access.size <= 4 else { return }
        bridge.writeConfiguration(target, size: access.size, value: UInt32(truncatingIfNeeded: value))
    }
}

/// The ECAM window: each function's 4 KiB of configuration space at its offset.
final class ECAMWindow: BusDevice, @unchecked Sendable {
    unowned(unsafe) var bridge: PCIHostBridge!

    func read(_ access: BusAccess) -> UInt64 {
        let target = PCIConfigurationAddress(ecamOffset: access.offset)
        // An access crossing a dword is not a configuration access (PCI Express 4.0, 7.2.2.2).
        guard access.size <= 4, target.register % 4 + access.size <= 4 else { return allOnes(access.size) }
        return UInt64(bridge.readConfiguration(target, size: access.size))
    }

    func write(_ access: BusAccess, value: UInt64) {
        let target = PCIConfigurationAddress(ecamOffset: access.offset)
        guard access.size <= 4, target.register % 4 + access.size <= 4 else { return }
        bridge.writeConfiguration(target, size: access.size, value: UInt32(truncatingIfNeeded: value))
    }
}

/// The memory windows, routed through the BAR decoder.
final class MemoryWindow: BusDevice, @unchecked Sendable {
    unowned(unsafe) var decoder: BARDecoder!

    func read(_ access: BusAccess) -> UInt64 { decoder.read(access) }
    func write(_ access: BusAccess, value: UInt64) { decoder.write(access, value: value) }
}

/// The bridge's own function at 00.0: a host bridge with nothing to configure.
final class HostBridgeFunction: PCIFunction {
    /// Red Hat's ID for a generic PCI Express host bridge (the one QEMU's gpex uses; Linux binds
    /// no driver to it).
    static let vendor: UInt16 = 0x1B36
    static let device: UInt16 = 0x0008

    let name = "pci-host-bridge"
    let configuration = PCIConfiguration(
        PCIConfigurationSpace(vendor: vendor, device: device, revision: 0, classCode: 0x06_00_00))

    func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 { allOnes(size) }
    func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {}
}
