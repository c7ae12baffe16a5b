/// The configuration space of one function (PCI Local Bus 3.0, 6.1; PCI Express 4.0, 7.5): the
/// type 0 header, the capability list from 0x40, and the extended space up to 4 KiB, as bytes with
/// a mask of the bits software may write. Everything not writable reads back what the function
/// put there, so a BAR's size comes out of the all-ones write exactly as on hardware (6.2.5.1: the
/// address bits below the size are hard-wired to zero).
public struct PCIConfigurationSpace: Sendable {
    /// 4 KiB: the PCI Express extended space, which ECAM reaches.
    public static let size = 0x1000
    static let commandOffset = 0x04
    static let statusOffset = 0x06
    static let firstBAROffset = 0x10
    static let capabilityPointerOffset = 0x34
    static let firstCapabilityOffset = 0x40
    /// Command register bits software may set (6.2.2): I/O and memory space, bus master, parity
    /// error response, SERR#, interrupt disable.
    static let writableCommandBits: UInt16 = 0x0547
    /// Command bit 1: the function answers its memory BARs.
    public static let memorySpaceEnable: UInt16 = 1 << 1
    /// Status bit 4: a capability list is present.
    static let capabilityListStatus: UInt16 = 1 << 4

    private var bytes = [UInt8](repeating: 0, count: size)
    private var writable = [UInt8](repeating: 0, count: size)
    public private(set) var bars: [PCIBAR?] = Array(repeating: nil, count: 6)
    private var lastCapability: Int?
    private var nextCapability = firstCapabilityOffset

    /// A type 0 header for `vendor:device` of class `classCode` (base class, subclass and
    /// programming interface, as one 24-bit number), with no interrupt pin: functions here signal
    /// with MSI-X only.
    public init(vendor: UInt16, device: UInt16, revision: UInt8, classCode: UInt32,
                subsystemVendor: UInt16 = 0, subsystem: UInt16 = 0) {
        set(vendor, at: 0x00)
        set(device, at: 0x02)
        bytes[0x08] = revision
        set(UInt16(truncatingIfNeeded: classCode), at: 0x09)
        bytes[0x0B] = UInt8(truncatingIfNeeded: classCode >> 16)
        set(subsystemVendor, at: 0x2C)
        set(subsystem, at: 0x2E)
        setWritable(UInt64(Self.writableCommandBits), at: Self.commandOffset, size: 2)
        // Cache line size and latency timer are plain storage for the OS; the interrupt line is
        // the OS's scratch byte (6.2.4).
        setWritable(0xFF, at: 0x0C, size: 1)
        setWritable(0xFF, at: 0x0D, size: 1)
        setWritable(0xFF, at: 0x3C, size: 1)
    }

    /// Declares BAR `index`; a 64-bit one also takes register `index + 1`.
    public mutating func setBAR(_ index: Int, _ bar: PCIBAR) {
        precondition(index + bar.registerCount <= 6 && bars[index] == nil, "BAR \(index) is taken or out of range")
        bars[index] = bar
        let offset = Self.firstBAROffset + 4 * index
        set(bar.typeBits, at: offset)
        setWritable(UInt64(~UInt32(truncatingIfNeeded: bar.size - 1)), at: offset, size: 4)
        if bar.width == .bits64 {
            setWritable(UInt64(~UInt32(truncatingIfNeeded: (bar.size - 1) >> 32)), at: offset + 4, size: 4)
        }
    }

    /// Appends a capability with ID `id` and `body` after its two-byte header (6.7), 4-byte
    /// aligned and linked after the previous one; returns its offset. `writableMask`, if any,
    /// covers the whole capability including the header.
    @discardableResult
    public mutating func addCapability(id: UInt8, body: [UInt8], writableMask: [UInt8] = []) -> Int {
        let offset = nextCapability
        precondition(offset + 2 + body.count <= 0x100, "the capability list fills the 256-byte header space")
        bytes[offset] = id
        bytes.replaceSubrange(offset + 2..<offset + 2 + body.count, with: body)
        for (index, mask) in writableMask.enumerated() { writable[offset + index] = mask }
        if let lastCapability { bytes[lastCapability + 1] = UInt8(offset) } else {
            bytes[Self.capabilityPointerOffset] = UInt8(offset)
            set(UInt16(Self.capabilityListStatus), at: Self.statusOffset)
        }
        lastCapability = offset
        nextCapability = (offset + 2 + body.count + 3) & ~3
        return offset
    }

    /// `size` (1, 2 or 4) bytes at `offset`; outside the space, all ones as from no device.
    public func read(offset: Int, size: Int) -> UInt32 {
        guard offset >= 0, size > 0, size <= 4, offset + size <= Self.size else { return UInt32.max }
        var value: UInt32 = 0
        for index in 0..<size { value |= UInt32(bytes[offset + index]) << (8 * index) }
        return value
    }

    /// Writes the writable bits of `size` bytes at `offset`; the rest keep their value.
    public mutating func write(offset: Int, size: Int, value: UInt32) {
        guard offset >= 0, size > 0, size <= 4, offset + size <= Self.size else { return }
        for index in 0..<size {
            let byte = UInt8(truncatingIfNeeded: value >> (8 * index))
            let mask = writable[offset + index]
            bytes[offset + index] = (bytes[offset + index] & ~mask) | (byte & mask)
        }
    }

    public var command: UInt16 { UInt16(truncatingIfNeeded: read(offset: Self.commandOffset, size: 2)) }

    /// Where BAR `index` currently points (its address bits, without the type bits).
    public func address(ofBAR index: Int) -> UInt64? {
        guard let bar = bars[index] else { return nil }
        let offset = Self.firstBAROffset + 4 * index
        var address = UInt64(read(offset: offset, size: 4) & ~0xF)
        if bar.width == .bits64 { address |= UInt64(read(offset: offset + 4, size: 4)) << 32 }
        return address
    }

    /// True when a write at `offset` of `size` bytes touches the command register or a BAR, which
    /// changes what the function decodes.
    static func affectsDecoding(offset: Int, size: Int) -> Bool {
        let end = offset + size
        return (offset < commandOffset + 2 && end > commandOffset)
            || (offset < firstBAROffset + 24 && end > firstBAROffset)
    }

    private mutating func set<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for index in 0..<MemoryLayout<T>.size { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }

    private mutating func setWritable(_ mask: UInt64, at offset: Int, size: Int) {
        for index in 0..<size { writable[offset + index] = UInt8(truncatingIfNeeded: mask >> (8 * index)) }
    }
}
