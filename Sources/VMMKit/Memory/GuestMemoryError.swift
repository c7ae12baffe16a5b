/// Failures of guest-physical memory accesses and layout.
public enum GuestMemoryError: VMMError, Equatable {
    /// An access of `length` bytes at `address` is not entirely inside one RAM or ROM region.
    case outOfBounds(address: UInt64, length: Int)
    /// A write hit a read-only (ROM) region.
    case readOnly(address: UInt64)
    /// Two regions were laid out over the same guest-physical bytes.
    case overlappingRegions(String, String)
    /// The host refused the mapping (mmap failed).
    case hostMappingFailed(bytes: Int, errno: Int32)
    /// The requested size is zero, not page aligned, or too large.
    case invalidSize(UInt64)
    /// RAM could not be moved into a memfd to share it with another process (`call` failed).
    case sharingFailed(region: String, call: String, errno: Int32)

    public var description: String {
        switch self {
        case let .outOfBounds(address, length):
            return "guest memory access of \(length) bytes at 0x\(String(address, radix: 16)) is outside guest RAM"
        case let .readOnly(address):
            return "guest memory write at 0x\(String(address, radix: 16)) hits read-only memory"
        case let .overlappingRegions(a, b):
            return "guest memory regions '\(a)' and '\(b)' overlap"
        case let .hostMappingFailed(bytes, errno):
            return "could not map \(bytes) bytes of guest memory on the host (errno \(errno))"
        case let .invalidSize(size):
            return "invalid guest memory size \(size): it must be a non-zero multiple of 4 KiB"
        case let .sharingFailed(region, call, errno):
            return "could not share guest \(region) with a device process: \(call) failed (errno \(errno))"
        }
    }
}
