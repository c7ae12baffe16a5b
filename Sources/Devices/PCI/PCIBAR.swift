/// What one base address register decodes (PCI Local Bus 3.0, 6.2.5.1): a memory range of a
/// power-of-two size, with 32- or 64-bit addresses. I/O-space BARs are not offered: every device
/// here is reached through MMIO, as PCI Express recommends for new functions.
public struct PCIBAR: Equatable, Sendable {
    public enum Width: Equatable, Sendable { case bits32, bits64 }

    /// A power of two of at least 4 KiB, so every BAR owns whole pages.
    public let size: UInt64
    public let width: Width

    public init(size: UInt64, width: Width = .bits32) {
        precondition(size >= 0x1000 && size & (size - 1) == 0, "a BAR's size is a power of two of at least 4 KiB")
        self.size = size
        self.width = width
    }

    /// The read-only low bits of the register: memory space (bit 0 clear), the type in bits 2:1
    /// (00 = 32-bit, 10 = 64-bit), not prefetchable (bit 3 clear).
    var typeBits: UInt32 { width == .bits64 ? 0b100 : 0 }

    /// How many of the six BAR registers it takes.
    var registerCount: Int { width == .bits64 ? 2 : 1 }
}
