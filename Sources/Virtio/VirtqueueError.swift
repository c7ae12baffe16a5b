import VMMKit

/// Why a descriptor chain or a whole virtqueue was refused. A chain error fails that request; a
/// queue error means the driver broke the ring itself, and the device needs a reset (virtio 1.2,
/// 2.1.1: DEVICE_NEEDS_RESET).
public enum VirtqueueError: VMMError, Equatable {
    // The queue as configured.
    case invalidSize(UInt16)
    case misaligned(String, UInt64)
    case ringOutsideMemory(String, UInt64)
    // The ring's state.
    case availableIndexJump(from: UInt16, to: UInt16)
    case headOutOfRange(UInt16)
    // One chain.
    case chainTooLong
    case nextOutOfRange(UInt16)
    case zeroLength
    case outsideMemory(address: UInt64, length: UInt32)
    case readableAfterWritable
    case indirectNotNegotiated
    case nestedIndirect
    case indirectWithNext
    case badIndirectLength(UInt32)

    /// True when the ring itself is broken, not just one request.
    public var needsReset: Bool {
        switch self {
        case .invalidSize, .misaligned, .ringOutsideMemory, .availableIndexJump, .headOutOfRange: return true
        default: return false
        }
    }

    public var description: String {
        switch self {
        case let .invalidSize(size): return "queue size \(size) is not a power of two from 1 to 32768"
        case let .misaligned(part, address): return "the \(part) at 0x\(String(address, radix: 16)) is misaligned"
        case let .ringOutsideMemory(part, address): return "the \(part) at 0x\(String(address, radix: 16)) is outside guest RAM"
        case let .availableIndexJump(from, to): return "the available index jumped from \(from) to \(to), past the queue size"
        case let .headOutOfRange(head): return "chain head \(head) is outside the descriptor table"
        case .chainTooLong: return "the chain is longer than its descriptor table (a loop?)"
        case let .nextOutOfRange(next): return "next descriptor \(next) is outside the descriptor table"
        case .zeroLength: return "a descriptor has length 0"
        case let .outsideMemory(address, length):
            return "a buffer of \(length) bytes at 0x\(String(address, radix: 16)) is not in guest RAM"
        case .readableAfterWritable: return "a device-readable descriptor follows a device-writable one"
        case .indirectNotNegotiated: return "an indirect descriptor without VIRTIO_F_INDIRECT_DESC"
        case .nestedIndirect: return "an indirect descriptor inside an indirect table"
        case .indirectWithNext: return "an indirect descriptor with NEXT set"
        case let .badIndirectLength(length): return "an indirect table of \(length) bytes"
        }
    }
}
