import Synchronization
import VMMKit

/// A device for testing the exit paths themselves: a port window and an MMIO window, each with a
/// scratch register that reads back what was written, a read-only magic number, and a count of the
/// accesses that reached it. A guest uses it to check that accesses of every width arrive intact
/// and that reads return the device's answer to the right register.
///
/// Port window (16 ports, default 0x600):  0 scratch (32-bit), 4 magic, 8 access count.
/// MMIO window (4 KiB, default 0xd0000000): 0 scratch (64-bit), 8 magic, 0x10 access count.
/// The count includes the access that reads it. Unused offsets read 0 and ignore writes.
///
/// With doorbells (`doorbells=on`), port 12 and MMIO 0x18 are VMMKit doorbells that the device's
/// own thread takes, and a 32-bit read there answers how many rings it has taken: the port one
/// rings for a 32-bit write of `portDoorbellValue` only, the MMIO one for any 32-bit write. Other
/// writes there reach the window as ordinary accesses, as they would on KVM.
public final class TestDevice: Device {
    /// "VMMT" read as a big-endian number; little-endian in guest memory its bytes spell "TMMV".
    public static let magic: UInt32 = 0x564D_4D54
    public static let defaultPort: UInt64 = 0x600
    public static let defaultMMIO: UInt64 = 0xd000_0000
    public static let portWindowLength: UInt64 = 0x10
    public static let mmioWindowLength: UInt64 = 0x1000
    public static let portDoorbellOffset: UInt64 = 12
    public static let mmioDoorbellOffset: UInt64 = 0x18
    /// The value the port doorbell matches ("GOOD").
    public static let portDoorbellValue: UInt64 = 0x600D

    public let name: String
    public let portBase: UInt64
    public let mmioBase: UInt64
    private let portWindow = Window(scratchWidth: 4, magicOffset: 4, countOffset: 8)
    private let mmioWindow = Window(scratchWidth: 8, magicOffset: 8, countOffset: 0x10)
    /// The doorbells' thread, with `doorbells=on`.
    private let doorbellThread: DeviceEventThread?

    public init(portBase: UInt64 = defaultPort, mmioBase: UInt64 = defaultMMIO, doorbells: Bool = false) throws {
        name = "test-device@0x\(String(portBase, radix: 16))"
        self.portBase = portBase
        self.mmioBase = mmioBase
        doorbellThread = doorbells ? try DeviceEventThread(name: name) : nil
    }

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: portBase, length: Self.portWindowLength, by: portWindow, name: name)
        try machine.mmio.claim(base: mmioBase, length: Self.mmioWindowLength, by: mmioWindow, name: name)
        guard let doorbellThread else { return }
        let port = try machine.ports.doorbells.declare(name: name + " port doorbell", width: 4, match: Self.portDoorbellValue)
        let mmio = try machine.mmio.doorbells.declare(name: name + " MMIO doorbell", width: 4)
        port.move(to: portBase + Self.portDoorbellOffset)
        mmio.move(to: mmioBase + Self.mmioDoorbellOffset)
        portWindow.doorbell = (port, Self.portDoorbellOffset)
        mmioWindow.doorbell = (mmio, Self.mmioDoorbellOffset)
        doorbellThread.watch(port)
        doorbellThread.watch(mmio)
        // Taking the rings is all there is to do: they are counted in the doorbells.
        try doorbellThread.start { _ in }
    }

    public func stop() { doorbellThread?.stop() }

    public func reset() {
        portWindow.reset()
        mmioWindow.reset()
    }

    /// Accesses that reached the port / MMIO window so far.
    public var portAccessCount: UInt32 { portWindow.accessCount }
    public var mmioAccessCount: UInt32 { mmioWindow.accessCount }

    /// One of the two windows: the same register layout at different widths and offsets.
    final class Window: BusDevice, @unchecked Sendable {
        private struct Registers {
            var scratch: UInt64 = 0
            var accesses: UInt32 = 0
        }

        private let scratchWidth: Int
        private let magicOffset: UInt64
        private let countOffset: UInt64
        private let registers = Mutex(Registers())
        /// The window's doorbell and its offset, set at attach before any vCPU runs.
        var doorbell: (Doorbell, UInt64)?

        init(scratchWidth: Int, magicOffset: UInt64, countOffset: UInt64) {
            self.scratchWidth = scratchWidth
            self.magicOffset = magicOffset
            self.countOffset = countOffset
        }

        var accessCount: UInt32 { registers.withLock { $0.accesses } }

        func reset() { registers.withLock { $0 = Registers() } }

        func read(_ access: BusAccess) -> UInt64 {
            registers.withLock { state in
                state.accesses &+= 1
                return RegisterWindow.read(offset: access.offset, size: access.size) { offset in
                    RegisterWindow.byte(of: state.scratch, width: scratchWidth, base: 0, at: offset)
                        ?? RegisterWindow.byte(of: UInt64(TestDevice.magic), width: 4, base: magicOffset, at: offset)
                        ?? RegisterWindow.byte(of: UInt64(state.accesses), width: 4, base: countOffset, at: offset)
                        ?? doorbell.flatMap { doorbell, base in
                            RegisterWindow.byte(of: doorbell.rings, width: 4, base: base, at: offset)
                        }
                        ?? 0
                }
            }
        }

        func write(_ access: BusAccess, value: UInt64) {
            registers.withLock { state in
                state.accesses &+= 1
                state.scratch = RegisterWindow.merge(state.scratch, width: scratchWidth, base: 0,
                                                     offset: access.offset, size: access.size, value: value)
            }
        }
    }
}

extension TestDevice {
    public static let deviceType = DeviceType(
        name: "test-device",
        summary: "scratch/magic/access-count registers on ports and MMIO, for testing exits",
        parameters: [
            "port=PORT    base of the 16-port window (default 0x600)",
            "mmio=ADDR    base of the 4 KiB MMIO window (default 0xd0000000)",
            "doorbells=on doorbells at port 12 (32-bit, value 0x600d) and MMIO 0x18 (32-bit); reads count rings",
        ]
    ) { arguments in
        let port = try arguments.integer("port", default: defaultPort)
        let mmio = try arguments.integer("mmio", default: defaultMMIO)
        guard port <= 0x1_0000 - portWindowLength else {
            throw DeviceSpecificationError.badValue("test-device", "port", "0x\(String(port, radix: 16))")
        }
        guard mmio % mmioWindowLength == 0, mmio <= UInt64.max - mmioWindowLength else {
            throw DeviceSpecificationError.badValue("test-device", "mmio", "0x\(String(mmio, radix: 16))")
        }
        let doorbells: Bool
        switch arguments.string("doorbells", default: "off") {
        case "on": doorbells = true
        case "off": doorbells = false
        case let other: throw DeviceSpecificationError.badValue("test-device", "doorbells", other)
        }
        return try TestDevice(portBase: port, mmioBase: mmio, doorbells: doorbells)
    }
}
