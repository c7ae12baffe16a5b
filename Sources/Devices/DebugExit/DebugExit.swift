import VMMKit

/// The test harness's way out: a write of value v to the port ends the run with exit status
/// (v << 1) | 1, exactly like QEMU's isa-debug-exit device (hw/misc/debugexit.c) configured with
/// iobase=0xf4,iosize=0x04, so one guest binary reports its result the same way under both.
public final class DebugExit: Device, BusDevice {
    public static let defaultPort: UInt64 = 0xf4
    public static let defaultSize: UInt64 = 4

    public let name: String
    public let port: UInt64
    public let size: UInt64
    private var runControl: RunControl?

    public init(port: UInt64 = defaultPort, size: UInt64 = defaultSize) {
        name = "debug-exit@0x\(String(port, radix: 16))"
        self.port = port
        self.size = size
    }

    public func attach(to machine: Machine) throws {
        try machine.ports.claim(base: port, length: size, by: self, name: name)
        runControl = machine.runControl
    }

    /// The port has nothing to read; like an unbacked ISA register it answers zero.
    public func read(_ access: BusAccess) -> UInt64 { 0 }

    public func write(_ access: BusAccess, value: UInt64) {
        runControl?.requestStop(.guestExit(value: UInt32(truncatingIfNeeded: value)))
    }
}

extension DebugExit {
    public static let deviceType = DeviceType(
        name: "debug-exit",
        summary: "a port whose write of v ends the run with exit status (v<<1)|1 (QEMU isa-debug-exit); one is at 0xf4 already",
        parameters: [
            "port=PORT    first port (default 0xf4)",
            "size=N       number of ports, 1 to 4 (default 4)",
        ]
    ) { arguments in
        let port = try arguments.integer("port", default: defaultPort)
        let size = try arguments.integer("size", default: defaultSize)
        guard port <= 0xffff else { throw DeviceSpecificationError.badValue("debug-exit", "port", String(port)) }
        guard (1...4).contains(size), port + size <= 0x1_0000 else {
            throw DeviceSpecificationError.badValue("debug-exit", "size", String(size))
        }
        return DebugExit(port: port, size: size)
    }
}
