/// The payload shapes vmm sends and reads ("Payload"), encoded little-endian, and read only after
/// checking their size exactly: a reply of the wrong size is an error, never a partial read.
public enum VhostUserPayload {
    /// The largest number of memory regions (and so of descriptors) in SET_MEM_TABLE
    /// (VHOST_MEMORY_BASELINE_NREGIONS).
    public static let largestRegionCount = 8
    /// Bits 0-7 of a SET_VRING_KICK/CALL/ERR payload are the vring index.
    static let vringIndexMask: UInt64 = 0xFF

    /// A single 64-bit integer.
    public static func u64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }

    /// A vring state description: index and number.
    public static func vringState(index: UInt32, number: UInt32) -> [UInt8] { words([index, number]) }

    /// A vring address description: index, flags (0: no logging), and the three parts' addresses
    /// in the front-end's address space ("user addresses"), then the log address (unused).
    public static func vringAddress(index: UInt32, descriptorTable: UInt64, usedRing: UInt64, availableRing: UInt64) -> [UInt8] {
        words([index, 0]) + u64(descriptorTable) + u64(usedRing) + u64(availableRing) + u64(0)
    }

    /// One region of a memory table: the guest address, size, where vmm maps it, and the offset
    /// of its first byte in the file descriptor sent beside it.
    public struct MemoryRegion: Equatable, Sendable {
        public let guestAddress: UInt64
        public let size: UInt64
        public let userAddress: UInt64
        public let mmapOffset: UInt64

        public init(guestAddress: UInt64, size: UInt64, userAddress: UInt64, mmapOffset: UInt64) {
            self.guestAddress = guestAddress
            self.size = size
            self.userAddress = userAddress
            self.mmapOffset = mmapOffset
        }
    }

    /// A memory regions description: the count, padding, and the regions.
    public static func memoryTable(_ regions: [MemoryRegion]) -> [UInt8] {
        words([UInt32(regions.count), 0]) + regions.flatMap {
            u64($0.guestAddress) + u64($0.size) + u64($0.userAddress) + u64($0.mmapOffset)
        }
    }

    /// A device configuration space request: offset, size, flags 0, and `size` bytes of room.
    public static func configuration(offset: UInt32, size: UInt32) -> [UInt8] {
        words([offset, size, 0]) + [UInt8](repeating: 0, count: Int(size))
    }

    /// The configuration bytes of a GET_CONFIG reply to a request for `size` bytes at `offset`:
    /// the reply must repeat both and carry exactly `size` bytes ("GET_CONFIG": a back-end that
    /// fails answers with an empty payload).
    public static func configurationBytes(of reply: [UInt8], offset: UInt32, size: UInt32) throws(VhostUserError) -> [UInt8] {
        guard !reply.isEmpty else { throw .configurationRefused }
        guard reply.count == 12 + Int(size) else { throw .replySize(request: VhostUserRequest.getConfiguration.rawValue, expected: 12 + Int(size), got: reply.count) }
        guard word(reply, at: 0) == offset, word(reply, at: 4) == size else { throw .configurationMismatch }
        return Array(reply[12...])
    }

    /// A u64 reply's value; the payload must be eight bytes.
    public static func u64(of reply: [UInt8], for request: VhostUserRequest) throws(VhostUserError) -> UInt64 {
        guard reply.count == 8 else { throw .replySize(request: request.rawValue, expected: 8, got: reply.count) }
        return (0..<8).reduce(0) { $0 | UInt64(reply[$1]) << (8 * $1) }
    }

    /// A vring state reply's number, for the ring `index` that was asked about.
    public static func vringNumber(of reply: [UInt8], index: UInt32) throws(VhostUserError) -> UInt32 {
        guard reply.count == 8 else { throw .replySize(request: VhostUserRequest.getVringBase.rawValue, expected: 8, got: reply.count) }
        guard word(reply, at: 0) == index else { throw .replyForOtherVring(asked: index, got: word(reply, at: 0)) }
        return word(reply, at: 4)
    }

    static func words(_ values: [UInt32]) -> [UInt8] {
        values.flatMap { value in (0..<4).map { UInt8(truncatingIfNeeded: value >> (8 * $0)) } }
    }

    static func word(_ bytes: [UInt8], at offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << (8 * $1) }
    }
}
