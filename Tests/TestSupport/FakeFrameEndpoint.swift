#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// A network link in memory for device tests: frames the test queues come out of `receive`, and
/// what the device sends is kept. The descriptor is a pipe's read end holding one byte per
/// queued frame, so it is readable exactly while frames wait, as a tap's is.
public final class FakeFrameEndpoint: FrameEndpoint, @unchecked Sendable {
    private struct State {
        var incoming: [[UInt8]] = []
        public var sent: [[UInt8]] = []
        var receiveCalls = 0
        var closed = false
    }

    public let descriptor: Int32
    private let writeEnd: Int32
    private let state = Mutex(State())

    public init() {
        var ends: [Int32] = [-1, -1]
        precondition(pipe(&ends) == 0)
        (descriptor, writeEnd) = (ends[0], ends[1])
    }

    deinit {
        Glibc.close(descriptor)
        Glibc.close(writeEnd)
    }

    /// Queues a frame from the host's side.
    public func deliver(_ frame: [UInt8]) {
        state.withLock { $0.incoming.append(frame) }
        var byte: UInt8 = 1
        _ = write(writeEnd, &byte, 1)
    }

    /// The host side goes away: `receive` answers `.closed` once the queued frames are taken.
    public func hangUp() { state.withLock { $0.closed = true } }

    public var sent: [[UInt8]] { state.withLock { $0.sent } }
    public var waiting: Int { state.withLock { $0.incoming.count } }
    public var receiveCalls: Int { state.withLock { $0.receiveCalls } }

    public func receive(into buffer: UnsafeMutableRawBufferPointer) -> FrameReceipt {
        state.withLock { state in
            state.receiveCalls += 1
            guard !state.incoming.isEmpty else { return state.closed ? .closed : .none }
            let frame = state.incoming.removeFirst()
            var byte: UInt8 = 0
            _ = read(descriptor, &byte, 1)
            let length = min(frame.count, buffer.count)
            buffer.copyBytes(from: frame[..<length])
            return .frame(length)
        }
    }

    public func send(_ frame: UnsafeRawBufferPointer) -> Bool {
        state.withLock { $0.sent.append(Array(frame)) }
        return true
    }

    public func close() {}
}
