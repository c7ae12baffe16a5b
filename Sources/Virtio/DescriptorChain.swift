/// The buffers of one request popped from a virtqueue: device-readable segments first, then
/// device-writable ones (virtio 1.2, 2.7.4.2), each already checked to lie in guest RAM, as host
/// pointers. The storage is allocated once per queue and reused for every chain.
public final class DescriptorChain {
    public struct Segment {
        public let host: UnsafeMutableRawPointer
        public let length: Int
        public let writable: Bool
    }

    /// The most segments one chain may have; a longer one is refused.
    public static let capacity = 1024

    /// The head descriptor's index: what the used ring entry names.
    public internal(set) var head: UInt16 = 0
    public private(set) var count = 0
    public private(set) var readableLength = 0
    public private(set) var writableLength = 0
    private let segments = UnsafeMutablePointer<Segment>.allocate(capacity: DescriptorChain.capacity)

    init() {}

    deinit { segments.deallocate() }

    public subscript(index: Int) -> Segment {
        precondition(index >= 0 && index < count)
        return segments[index]
    }

    func start(head: UInt16) {
        self.head = head
        count = 0
        readableLength = 0
        writableLength = 0
    }

    /// False when the chain is full.
    func append(_ segment: Segment) -> Bool {
        guard count < Self.capacity else { return false }
        (segments + count).initialize(to: segment)
        count += 1
        if segment.writable { writableLength += segment.length } else { readableLength += segment.length }
        return true
    }

    /// Walks up to `limit` bytes of the device-readable (or device-writable) part from `offset`,
    /// span by span in chain order; `body` gets each span's host address and length, and returns
    /// false to stop there. Returns how many bytes the completed spans held.
    @discardableResult
    public func walk(writable: Bool, from offset: Int, limit: Int,
                     _ body: (UnsafeMutableRawPointer, Int) -> Bool) -> Int {
        var skip = offset, walked = 0
        for index in 0..<count where segments[index].writable == writable && walked < limit {
            let segment = segments[index]
            guard skip < segment.length else {
                skip -= segment.length
                continue
            }
            let length = min(segment.length - skip, limit - walked)
            guard body(segment.host + skip, length) else { break }
            walked += length
            skip = 0
        }
        return walked
    }

    /// Copies up to `buffer.count` readable bytes from `offset` of the readable part into
    /// `buffer`; returns how many were copied.
    public func read(from offset: Int, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        var copied = 0
        return walk(writable: false, from: offset, limit: buffer.count) { host, length in
            (buffer.baseAddress! + copied).copyMemory(from: host, byteCount: length)
            copied += length
            return true
        }
    }

    /// Copies `bytes` into the writable part from `offset`; returns how many fitted.
    public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) -> Int {
        var copied = 0
        return walk(writable: true, from: offset, limit: bytes.count) { host, length in
            host.copyMemory(from: bytes.baseAddress! + copied, byteCount: length)
            copied += length
            return true
        }
    }
}
