#if canImport(Glibc)
import Glibc
#endif

/// The guest-physical address space's RAM and ROM: a few host mappings, and bounds-checked
/// accessors that can never reach host memory outside them.
///
/// Devices, loaders and the Soft CPU all go through `withBytes`/`read`/`write`; a hot path may keep
/// a raw pointer only after `hostPointer(at:length:)` checked the range.
public final class GuestMemory: @unchecked Sendable {
    public private(set) var regions: [MemoryRegion] = []

    public init() {}

    deinit {
        for region in regions { munmap(region.host, Int(region.size)) }
    }

    /// Maps `size` bytes of zeroed anonymous memory at `guestBase`.
    @discardableResult
    public func addRegion(name: String, at guestBase: UInt64, size: UInt64, kind: MemoryRegion.Kind = .ram)
        throws(GuestMemoryError) -> MemoryRegion
    {
        guard size > 0, size % 4096 == 0, guestBase % 4096 == 0, size <= 1 << 46 else {
            throw .invalidSize(size)
        }
        if let clash = regions.first(where: { guestBase < $0.guestEnd && $0.guestBase < guestBase + size }) {
            throw .overlappingRegions(clash.name, name)
        }
        let mapping = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        guard let mapping, mapping != MAP_FAILED else { throw .hostMappingFailed(bytes: Int(size), errno: errno) }
        let region = MemoryRegion(name: name, guestBase: guestBase, size: size, kind: kind, host: mapping)
        regions.append(region)
        regions.sort { $0.guestBase < $1.guestBase }
        return region
    }

    /// Total bytes of RAM (ROM excluded).
    public var ramSize: UInt64 { regions.filter { $0.kind == .ram }.reduce(0) { $0 + $1.size } }

    /// The region holding all of `[address, address + length)`, if one does.
    @inline(__always)
    public func region(containing address: UInt64, length: Int) -> MemoryRegion? {
        for region in regions where region.contains(address, length: length) { return region }
        return nil
    }

    /// A host pointer to `length` bytes at `address`, or nil when any of them is outside guest memory.
    @inline(__always)
    public func hostPointer(at address: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        guard let region = region(containing: address, length: length) else { return nil }
        return region.host + Int(address - region.guestBase)
    }

    /// A host pointer to `length` bytes of RAM at `address`, or nil when any of them is not RAM (ROM
    /// included): what a device that writes guest memory by pointer (a PV EOI flag, a kvmclock page)
    /// keeps, so that it can no more write ROM than it can write outside guest memory.
    @inline(__always)
    public func ramPointer(at address: UInt64, length: Int) -> UnsafeMutableRawPointer? {
        guard let region = region(containing: address, length: length), region.kind == .ram else { return nil }
        return region.host + Int(address - region.guestBase)
    }

    public func read<T: FixedWidthInteger>(_: T.Type = T.self, at address: UInt64) throws(GuestMemoryError) -> T {
        guard let pointer = hostPointer(at: address, length: MemoryLayout<T>.size) else {
            throw .outOfBounds(address: address, length: MemoryLayout<T>.size)
        }
        return T(littleEndian: pointer.loadUnaligned(as: T.self))
    }

    public func write<T: FixedWidthInteger>(_ value: T, at address: UInt64) throws(GuestMemoryError) {
        let pointer = try writablePointer(at: address, length: MemoryLayout<T>.size)
        pointer.storeBytes(of: value.littleEndian, as: T.self)
    }

    /// Copies `bytes` into guest memory at `address`; nothing is written unless all of it fits.
    public func write(_ bytes: UnsafeRawBufferPointer, at address: UInt64) throws(GuestMemoryError) {
        guard !bytes.isEmpty, let base = bytes.baseAddress else { return }
        let pointer = try writablePointer(at: address, length: bytes.count)
        pointer.copyMemory(from: base, byteCount: bytes.count)
    }

    public func write(_ bytes: [UInt8], at address: UInt64) throws(GuestMemoryError) {
        guard !bytes.isEmpty else { return }
        let pointer = try writablePointer(at: address, length: bytes.count)
        bytes.withUnsafeBytes { pointer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    /// Fills `length` bytes at `address` with zero.
    public func zero(at address: UInt64, length: Int) throws(GuestMemoryError) {
        guard length > 0 else { return }
        try writablePointer(at: address, length: length).initializeMemory(as: UInt8.self, repeating: 0, count: length)
    }

    /// Makes every RAM region read zero again, as after power-on; ROM keeps its contents. The pages
    /// go back to the host (madvise MADV_DONTNEED on a private anonymous mapping refills them with
    /// zeros on the next touch), so a reset costs no writes and leaves no memory committed; where
    /// that is refused the bytes are zeroed one by one.
    public func clearRAM() {
        for region in regions where region.kind == .ram {
            if madvise(region.host, Int(region.size), MADV_DONTNEED) != 0 {
                region.host.initializeMemory(as: UInt8.self, repeating: 0, count: Int(region.size))
            }
        }
    }

    public func readBytes(at address: UInt64, count: Int) throws(GuestMemoryError) -> [UInt8] {
        guard count > 0 else { return [] }
        guard let pointer = hostPointer(at: address, length: count) else {
            throw .outOfBounds(address: address, length: count)
        }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }

    private func writablePointer(at address: UInt64, length: Int) throws(GuestMemoryError) -> UnsafeMutableRawPointer {
        guard let region = region(containing: address, length: length) else {
            throw .outOfBounds(address: address, length: length)
        }
        guard region.kind == .ram else { throw .readOnly(address: address) }
        return region.host + Int(address - region.guestBase)
    }
}
