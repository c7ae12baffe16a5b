#if canImport(Glibc)
import Glibc
#endif
internal import CMemFD

/// The guest-physical address space's RAM and ROM: a few host mappings, and bounds-checked
/// accessors that can never reach host memory outside them.
///
/// Devices, loaders and the Soft CPU all go through `withBytes`/`read`/`write`; a hot path may keep
/// a raw pointer only after `hostPointer(at:length:)` checked the range.
public final class GuestMemory: @unchecked Sendable {
    public private(set) var regions: [MemoryRegion] = []

    public init() {}

    deinit {
        for region in regions {
            munmap(region.host, Int(region.size))
            if let file = region.sharedFile { close(file) }
        }
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

    /// Backs every RAM region with a memfd mapped shared at the same host address, so a device in
    /// another process (vhost-user: QEMU's docs/interop/vhost-user.rst, "Memory access") can map
    /// the same pages from the file descriptor. Pointers into RAM stay valid; the bytes written so
    /// far (the pages the host has present) are carried over. Call it while assembling the
    /// machine, before a backend maps RAM into a VM; a second call changes nothing.
    public func shareRAM() throws(GuestMemoryError) {
        for index in regions.indices where regions[index].kind == .ram && regions[index].sharedFile == nil {
            let region = regions[index]
            let file = cmemfd_create("vmm guest \(region.name)")
            guard file >= 0 else { throw .sharingFailed(region: region.name, call: "memfd_create", errno: errno) }
            do throws(GuestMemoryError) {
                guard ftruncate(file, off_t(region.size)) == 0 else {
                    throw .sharingFailed(region: region.name, call: "ftruncate", errno: errno)
                }
                try Self.copyPresentPages(of: region, into: file)
                let mapped = mmap(region.host, Int(region.size), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, file, 0)
                guard mapped == region.host else { throw .sharingFailed(region: region.name, call: "mmap", errno: errno) }
            } catch {
                close(file)
                throw error
            }
            regions[index] = MemoryRegion(name: region.name, guestBase: region.guestBase, size: region.size,
                                          kind: region.kind, host: region.host, sharedFile: file)
        }
    }

    /// Writes the pages of `region` that the host has present (mincore(2)) into `file`: a page
    /// never touched reads zero, as the file's do, so RAM untouched by assembly costs nothing.
    private static func copyPresentPages(of region: MemoryRegion, into file: Int32) throws(GuestMemoryError) {
        let page = 4096
        let pages = Int(region.size) / page
        var present = [UInt8](repeating: 0, count: pages)
        guard mincore(region.host, Int(region.size), &present) == 0 else {
            throw .sharingFailed(region: region.name, call: "mincore", errno: errno)
        }
        for index in 0..<pages where present[index] & 1 != 0 {
            guard pwrite(file, region.host + index * page, page, off_t(index * page)) == page else {
                throw .sharingFailed(region: region.name, call: "pwrite", errno: errno)
            }
        }
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
    /// zeros on the next touch; on a shared memfd MADV_REMOVE punches them out of the file, for
    /// the device process too), so a reset costs no writes and leaves no memory committed; where
    /// that is refused the bytes are zeroed one by one.
    public func clearRAM() {
        for region in regions where region.kind == .ram {
            let advice = region.sharedFile == nil ? MADV_DONTNEED : MADV_REMOVE
            if madvise(region.host, Int(region.size), advice) != 0 {
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
