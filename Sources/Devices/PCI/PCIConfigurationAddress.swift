/// The function and register a configuration access names, from an ECAM offset (PCI Express 4.0,
/// 7.2.2: bus 27:20, device 19:15, function 14:12, register 11:0) or from configuration mechanism
/// #1's address register (PCI Local Bus 3.0, 3.2.2.3.2: enable bit 31, bus 23:16, device 15:11,
/// function 10:8, dword 7:2).
struct PCIConfigurationAddress: Equatable {
    let bus: Int
    let device: Int
    let function: Int
    let register: Int

    init(bus: Int, device: Int, function: Int, register: Int) {
        self.bus = bus
        self.device = device
        self.function = function
        self.register = register
    }

    init(ecamOffset offset: UInt64) {
        self.init(bus: Int((offset >> 20) & 0xFF), device: Int((offset >> 15) & 0x1F),
                  function: Int((offset >> 12) & 7), register: Int(offset & 0xFFF))
    }

    /// Nil while the enable bit is clear: the data port then reaches no function.
    init?(mechanism1 address: UInt32, byteInData: Int) {
        guard address & (1 << 31) != 0 else { return nil }
        self.init(bus: Int((address >> 16) & 0xFF), device: Int((address >> 11) & 0x1F),
                  function: Int((address >> 8) & 7), register: Int(address & 0xFC) + byteInData)
    }
}
