#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// A raw disk image on the host: an open file of whole 512-byte sectors, read and written at
/// offsets, flushed with fdatasync. Refused at start when it is missing, a directory, or not a
/// whole number of sectors.
public final class DiskImage: @unchecked Sendable {
    public static let sectorSize: UInt64 = 512

    public let path: String
    public let readOnly: Bool
    public let size: UInt64
    private let descriptor: Int32

    public init(path: String, readOnly: Bool) throws(DiskImageError) {
        var status = stat()
        guard stat(path, &status) == 0 else { throw .cannotOpen(path, String(cString: strerror(errno))) }
        guard status.st_mode & S_IFMT != S_IFDIR else { throw .directory(path) }
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

    /// Reads `length` bytes at `offset` into `buffer`; false on a host error or end of file.
    public func read(into buffer: UnsafeMutableRawPointer, length: Int, at offset: UInt64) -> Bool {
        repeatUntilDone(length, at: offset) { done, position in pread(descriptor, buffer + done, length - done, position) }
    }

    /// Writes `length` bytes at `offset` from `buffer`; false on a host error.
    public func write(from buffer: UnsafeRawPointer, length: Int, at offset: UInt64) -> Bool {
        repeatUntilDone(length, at: offset) { done, position in pwrite(descriptor, buffer + done, length - done, position) }
    }

    /// Repeats `call` (given the bytes done so far and the file position) after short transfers
    /// and EINTR until `length` bytes are done; false once it fails or makes no progress.
    private func repeatUntilDone(_ length: Int, at offset: UInt64, _ call: (Int, off_t) -> Int) -> Bool {
        var done = 0
        while done < length {
            let moved = call(done, off_t(offset) + off_t(done))
            if moved > 0 { done += moved } else if moved < 0 && errno == EINTR { continue } else { return false }
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
    case notWholeSectors(String, Int)

    public var description: String {
        switch self {
        case .noImage: return "virtio-blk needs its disk image: file=IMAGE"
        case let .cannotOpen(path, reason): return "cannot open disk image '\(path)': \(reason)"
        case let .directory(path): return "disk image '\(path)' is a directory"
        case let .notWholeSectors(path, size):
            return "disk image '\(path)' is \(size) bytes, not a multiple of 512"
        }
    }
}
