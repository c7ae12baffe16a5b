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
            let contents: [UInt8]
            do {
                contents = try HostFile.read(path, limit: free)
            } catch {
                switch error {
                case let .tooLarge(size): throw .moduleTooBig(path: path, size: size, free: free)
                case let .system(reason): throw .moduleUnreadable(path: path, reason: reason)
                }
            }
            try KernelImage.checkPlacement(path: path, address: address, size: UInt64(contents.count), in: memory)
            let module = BootModule(path: path, contents: contents, address: address)
            modules.append(module)
            next = module.end
        }
        return modules
    }

    func write(into memory: GuestMemory) throws(GuestMemoryError) {
        try memory.write(contents, at: address)
    }
}
