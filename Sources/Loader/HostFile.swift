#if canImport(Glibc)
import Glibc
import VMMKit
#endif

/// Whole host files read with POSIX calls: the module files a kernel is booted with.
enum HostFile {
    enum Failure: Error {
        case system(String)
        /// The file holds more than the caller's limit; nothing was read.
        case tooLarge(UInt64)
    }

    /// The contents of `path`, refusing before reading when it holds more than `limit` bytes.
    static func read(_ path: String, limit: UInt64) throws(Failure) -> [UInt8] {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .system(String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .system(String(cString: strerror(errno))) }
        guard (status.st_mode & S_IFMT) == S_IFREG else { throw .system("not a regular file") }
        let size = UInt64(status.st_size)
        guard size <= limit else { throw .tooLarge(size) }
        var contents = [UInt8](repeating: 0, count: Int(size))
        var done = 0
        while done < contents.count {
            let count = contents.withUnsafeMutableBytes { buffer in
                Glibc.read(descriptor, buffer.baseAddress! + done, buffer.count - done)
            }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { throw .system(count == 0 ? "file shrank while being read" : String(cString: strerror(errno))) }
            done += count
        }
        return contents
    }
}
