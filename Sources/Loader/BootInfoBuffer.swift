import VMMKit

/// The boot information area (`BootLayout.bootInfoSize` bytes at the layout's `bootInfo`) assembled on the host
/// first and copied into the guest in one write, so a kernel that asks for more than fits is
/// rejected before guest memory changes.
struct BootInfoBuffer {
    let base: UInt64
    let capacity: Int
    let kernelPath: String
    private(set) var bytes: [UInt8] = []

    init(kernelPath: String, base: UInt64, capacity: Int = Int(BootLayout.bootInfoSize)) {
        self.kernelPath = kernelPath
        self.base = base
        self.capacity = capacity
    }

    /// Reserves `size` zeroed bytes aligned to `alignment` and returns their guest address.
    mutating func allocate(_ size: Int, alignment: Int = 8) throws(KernelLoadError) -> UInt64 {
        let start = (bytes.count + alignment - 1) / alignment * alignment
        guard size <= capacity, start <= capacity - size else {
            throw .bootInfoTooLarge(path: kernelPath, limit: capacity)
        }
        bytes += [UInt8](repeating: 0, count: start + size - bytes.count)
        return base + UInt64(start)
    }

    /// Stores `value` little-endian at `address`, inside an earlier allocation.
    mutating func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        let offset = Int(address - base)
        withUnsafeBytes(of: value.littleEndian) { source in
            for (index, byte) in source.enumerated() { bytes[offset + index] = byte }
        }
    }

    /// Appends a NUL-terminated copy of `string` and returns its guest address.
    mutating func append(string: String) throws(KernelLoadError) -> UInt64 {
        let utf8 = Array(string.utf8) + [0]
        let address = try allocate(utf8.count, alignment: 1)
        let offset = Int(address - base)
        bytes.replaceSubrange(offset..<offset + utf8.count, with: utf8)
        return address
    }

    func write(into memory: GuestMemory) throws(GuestMemoryError) {
        try memory.write(bytes, at: base)
    }
}
