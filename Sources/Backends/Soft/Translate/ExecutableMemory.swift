#if canImport(Glibc)
import Glibc
#endif

/// The buffer translated code lives in: one anonymous mapping, readable, writable and executable,
/// filled front to back and emptied all at once when the decoded-code cache is flushed (QEMU's
/// code_gen_buffer). Pages are only backed once written.
struct ExecutableMemory {
    static let capacity = 16 << 20

    let start: UnsafeMutablePointer<UInt8>?
    var used = 0

    init() {
        let mapping = mmap(nil, Self.capacity, PROT_READ | PROT_WRITE | PROT_EXEC,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        if let mapping, mapping != MAP_FAILED {
            start = mapping.assumingMemoryBound(to: UInt8.self)
        } else {
            start = nil // no executable memory (a hardened kernel): the interpreter runs everything
        }
    }

    func deallocate() {
        if let start { munmap(start, Self.capacity) }
    }

    var free: Int { Self.capacity - used }
}
