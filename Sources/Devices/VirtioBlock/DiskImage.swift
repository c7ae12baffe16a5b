#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// A raw disk image on the host: an open file of whole 512-byte sectors, read and written at
/// offsets with vectored I/O (a request's guest buffers in one system call), flushed with
/// fdatasync. Refused at start when it is missing, a directory, neither a file nor a block device
/// (a pipe, a socket, /dev/zero), or not a whole number of sectors.
public final class DiskImage: @unchecked Sendable {
    public static let sectorSize: UInt64 = 512

    public let path: String
    public let readOnly: Bool
    public let size: UInt64
    private let descriptor: Int32

    public init(path: String, readOnly: Bool) throws(DiskImageError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        let kind = status.st_mode & S_IFMT
        guard kind != S_IFDIR else { throw .directory(path) }
        // A pipe, socket or character device has no size and no offsets to read at.
        guard kind == S_IFREG || kind == S_IFBLK else { throw .notAFile(path) }
        let descriptor = open(path, (readOnly ? O_RDONLY : O_RDWR) | O_CLOEXEC)
        guard descriptor >= 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        // lseek answers for block devices too, whose st_size is 0.
        let end = lseek(descriptor, 0, SEEK_END)
        guard end >= 0, UInt64(end) % Self.sectorSize == 0 else {
            close(descriptor)
            throw .notWholeSectors(path, end)
        }
        self.path = path
        self.readOnly = readOnly
        self.descriptor = descriptor
        size = UInt64(end)
    }

    deinit { close(descriptor) }

    /// The most buffers one preadv/pwritev takes (IOV_MAX on Linux).
    public static let vectorLimit = 1024

    /// Reads into (or, `write`, writes from) the `count` buffers of `vectors` at `offset`, one
    /// preadv/pwritev for all of them, repeated after a short transfer or EINTR; false on a host
    /// error or end of file. `vectors` is consumed: its entries are advanced past what moved.
    public func transfer(_ vectors: UnsafeMutablePointer<iovec>, count: Int, at offset: UInt64, write: Bool) -> Bool {
        var first = 0, position = off_t(offset)
        while first < count {
            let batch = Int32(min(count - first, Self.vectorLimit))
            let moved = write ? pwritev(descriptor, vectors + first, batch, position)
                              : preadv(descriptor, vectors + first, batch, position)
            guard moved > 0 else {
                if moved < 0 && errno == EINTR { continue }
                return false
            }
            position += off_t(moved)
            var left = moved
            while left > 0 {
                if left >= vectors[first].iov_len {
                    left -= vectors[first].iov_len
                    first += 1
                } else {
                    vectors[first].iov_base += left
                    vectors[first].iov_len -= left
                    left = 0
                }
            }
        }
        return true
    }

    /// Makes every completed write durable (fdatasync(2)).
    public func flush() -> Bool { fdatasync(descriptor) == 0 }
}

public enum DiskImageError: VMMError, Equatable {
    case noImage
    case cannotOpen(String, String)
    case directory(String)
    case notAFile(String)
    case notWholeSectors(String, Int)

    public var description: String {
        switch self {
        case .noImage: return "virtio-blk needs its disk image: file=IMAGE"
        case let .cannotOpen(path, reason): return "cannot open disk image '\(path)': \(reason)"
        case let .directory(path): return "disk image '\(path)' is a directory"
        case let .notAFile(path): return "disk image '\(path)' is neither a file nor a block device"
        case let .notWholeSectors(path, size):
            return "disk image '\(path)' is \(size) bytes, not a multiple of 512"
        }
    }
}
