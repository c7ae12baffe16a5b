/// Where a PCI host bridge's address spaces lie in guest-physical memory: the ECAM configuration
/// window (PCI Firmware 3.2, 4.1.2: 1 MiB per bus; bus 0 only here) and the windows BARs are
/// placed in. The board picks them; its ACPI tables describe the same numbers.
public struct PCIAddressWindows: Equatable, Sendable {
    public var configurationBase: UInt64
    /// BARs of 32-bit functions, below 4 GiB.
    public var memory32: Range<UInt64>
    /// 64-bit BARs, above RAM, if the board has such a window (else they go below 4 GiB too).
    public var memory64: Range<UInt64>?

    /// 1 MiB: 32 devices x 8 functions x 4 KiB, for bus 0.
    public static let configurationSize: UInt64 = 1 << 20

    public init(configurationBase: UInt64, memory32: Range<UInt64>, memory64: Range<UInt64>? = nil) {
        self.configurationBase = configurationBase
        self.memory32 = memory32
        self.memory64 = memory64
    }

    public var configuration: Range<UInt64> { configurationBase..<configurationBase + Self.configurationSize }
}
