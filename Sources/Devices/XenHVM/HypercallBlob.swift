#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// A hypercall blob from a file (`blob32=`, `blob64=`): whole 4 KiB pages that a guest's WRMSR
/// copies into its memory one at a time, as the blobs KVM_XEN_HVM_CONFIG takes (api.rst; its
/// blob sizes are a byte, so at most 255 pages each). Read once at start.
enum HypercallBlob {
    static let pageSize = HypercallPage.size
    static let maximumPages = 255

    static func load(_ path: String) throws(HypercallBlobError) -> [UInt8] {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .cannotRead(path, String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT == S_IFREG else { throw .notAFile(path) }
        guard status.st_size > 0 else { throw .empty(path) }
        guard status.st_size % off_t(pageSize) == 0 else { throw .notWholePages(path, size: Int64(status.st_size)) }
        guard status.st_size <= off_t(maximumPages * pageSize) else {
            throw .tooLarge(path, pages: Int64(status.st_size) / Int64(pageSize))
        }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotRead(path, String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var filled = 0
        while filled < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + filled, $0.count - filled) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { throw .cannotRead(path, got < 0 ? String(cString: strerror(errno)) : "it shrank while being read") }
            filled += got
        }
        return bytes
    }
}

public enum HypercallBlobError: VMMError, Equatable {
    case cannotRead(String, String)
    case notAFile(String)
    case empty(String)
    case notWholePages(String, size: Int64)
    case tooLarge(String, pages: Int64)

    public var description: String {
        switch self {
        case let .cannotRead(path, why): return "xen-hvm: cannot read hypercall blob '\(path)': \(why)"
        case let .notAFile(path): return "xen-hvm: hypercall blob '\(path)' is not a regular file"
        case let .empty(path): return "xen-hvm: hypercall blob '\(path)' is empty"
        case let .notWholePages(path, size):
            return "xen-hvm: hypercall blob '\(path)' is \(size) bytes, not a whole number of 4096-byte pages"
        case let .tooLarge(path, pages):
            return "xen-hvm: hypercall blob '\(path)' has \(pages) pages; at most \(HypercallBlob.maximumPages) are allowed"
        }
    }
}
