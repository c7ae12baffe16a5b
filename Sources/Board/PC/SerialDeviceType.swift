import HostIO
import Serial16550
import VMMKit

extension PCBoard {
    /// `--device serial,port=0x2f8,irq=3,output=file:com2.log`: a further UART. COM1 is part of the
    /// PC board already. The type lives with the board because it connects the UART to the host.
    public static let serialDeviceType = DeviceType(
        name: "serial",
        summary: "16550A UART (COM1 is always present; add COM2-COM4 with this)",
        parameters: [
            "port=PORT    first of its 8 I/O ports (default 0x2f8)",
            "irq=N        ISA IRQ line 1-15 not in use (default 3)",
            "output=stdio|file:PATH|none    where transmitted bytes go (default none)",
        ]
    ) { arguments in
        let port = try arguments.integer("port", default: 0x2f8)
        let irq = try arguments.integer("irq", default: 3)
        guard port <= 0xfff8 else { throw DeviceSpecificationError.badValue("serial", "port", "0x\(String(port, radix: 16))") }
        // An ISA UART drives an ISA line (0-15); which of those are free the machine decides.
        guard irq < 16 else { throw DeviceSpecificationError.badValue("serial", "irq", String(irq)) }
        let endpoint = try ConsoleEndpoint(parsing: arguments.string("output", default: "none"))
        return Serial16550(port: port, irq: Int(irq), output: try endpoint.makeOutput())
    }
}
