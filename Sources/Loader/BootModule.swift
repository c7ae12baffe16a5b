import VMMKit

/// A file handed to the kernel beside it (an initrd, say): read from the host and placed in guest
/// RAM on a page boundary after the kernel (Multiboot 0.6.96, 3.1.2 flag bit 0), the next after it.
struct BootModule {
    let path: String
    let contents: [UInt8]
    /// Guest-physical address of the first byte.
    let address: UInt64

    var end: UInt64 { address + UInt64(contents.count) }

    /// Reads `paths` and places them one after the other from `start`, below 4 GiB (Multiboot's
    /// module fields are 32-bit, and PVH loaders keep to that too), checking each placement.
    static func load(_ paths: [String], after start: UInt64, in memory: GuestMemory) throws(KernelLoadError) -> [BootModule] {
        var modules: [BootModule] = []
        var next = start
        for path in paths {
            let address = (next + 0xfff) & ~0xfff
            let lowRAMEnd = memory.region(containing: address, length: 0).map { min($0.guestEnd, 1 << 32) } ?? address
            let free = lowRAMEnd > address ? lowRAMEnd - address : 0
            let contents = try read(path, limit: free) { .moduleTooBig(path: path, size: $0, free: free) }
            try KernelImage.checkPlacement(path: path, address: address, size: UInt64(contents.count), in: memory)
            let module = BootModule(path: path, contents: contents, address: address)
            modules.append(module)
            next = module.end
        }
        return modules
    }

    /// Reads the file at `path` and places it as high as it fits, page-aligned, ending at or below
    /// `ceiling` and starting at or above `floor`: where Linux loaders put the initrd (boot.rst,
    /// "initrd_addr_max"), clear of the space the kernel decompresses into.
    static func loadHigh(_ path: String, between floor: UInt64, and ceiling: UInt64, in memory: GuestMemory)
        throws(KernelLoadError) -> BootModule
    {
        let room = ceiling > floor ? ceiling - floor : 0
        let contents = try read(path, limit: room) {
            .initrdDoesNotFit(path: path, size: $0, kernelEnd: floor, ceiling: ceiling)
        }
        let address = (ceiling - UInt64(contents.count)) & ~0xfff
        guard address >= floor else {
            throw .initrdDoesNotFit(path: path, size: UInt64(contents.count), kernelEnd: floor, ceiling: ceiling)
        }
        try KernelImage.checkPlacement(path: path, address: address, size: UInt64(contents.count), in: memory)
        return BootModule(path: path, contents: contents, address: address)
    }

    /// The file's contents, or `tooLarge(size)` when it holds more than `limit` bytes.
    private static func read(_ path: String, limit: UInt64, tooLarge: (UInt64) -> KernelLoadError)
        throws(KernelLoadError) -> [UInt8]
    {
        do {
            return try HostFile.read(path, limit: limit)
        } catch {
            switch error {
            case let .tooLarge(size): throw tooLarge(size)
            case let .system(reason): throw .moduleUnreadable(path: path, reason: reason)
            }
        }
    }

    func write(into memory: GuestMemory) throws(GuestMemoryError) {
        try memory.write(contents, at: address)
    }
}
