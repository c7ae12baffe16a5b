/// One contiguous range of guest-physical memory backed by one host mapping.
public struct MemoryRegion: Sendable {
    public enum Kind: Sendable { case ram, rom }

    public let name: String
    public let guestBase: UInt64
    public let size: UInt64
    public let kind: Kind
    /// Host address of the first byte. Valid for the lifetime of the owning `GuestMemory`.
    public nonisolated(unsafe) let host: UnsafeMutableRawPointer
    /// The memfd behind the mapping, from offset 0, once `GuestMemory.shareRAM` made the region
    /// shareable with another process; nil for private anonymous memory.
    public let sharedFile: Int32?

    public init(name: String, guestBase: UInt64, size: UInt64, kind: Kind, host: UnsafeMutableRawPointer,
                sharedFile: Int32? = nil) {
        self.name = name
        self.guestBase = guestBase
        self.size = size
        self.kind = kind
        self.host = host
        self.sharedFile = sharedFile
    }

    public var guestEnd: UInt64 { guestBase + size }

    @inline(__always)
    public func contains(_ address: UInt64, length: Int) -> Bool {
        address >= guestBase && length >= 0 && address &- guestBase <= size &- UInt64(length)
            && UInt64(length) <= size
    }
}
