import Synchronization
import VMMKit

/// A function's MSI-X capability and the BAR memory behind it (PCI Local Bus 3.0, 6.8.2): a table
/// of 16-byte entries (message address low/high, data, vector control with the mask in bit 0) at
/// offset 0 of one BAR, and the pending bit array at `pendingOffset` of the same BAR. A vector
/// signalled while masked, or while the function is masked or MSI-X is off, is left pending and
/// sent once software unmasks it (6.8.2.9). Messages go to the machine's interrupt sink outside
/// the table's lock, each vector through its own `MSIEventRoute`: with KVM's in-kernel irqchip
/// a write to the vector's irqfd, otherwise the sink's `send` (our local APICs).
public final class MSIXVectors: @unchecked Sendable {
    /// The capability ID (PCI Code and ID Assignment, 2.1).
    static let capabilityID: UInt8 = 0x11
    static let entrySize = 16
    static let enableBit: UInt16 = 1 << 15
    static let functionMaskBit: UInt16 = 1 << 14

    private struct State {
        /// Four dwords per vector, as laid out in the table.
        var entries: [UInt32]
        var pending: [Bool]
        var enabled = false
        var functionMasked = false

        init(count: Int) {
            entries = (0..<count).flatMap { _ in [UInt32(0), 0, 0, 1] }  // masked after reset (6.8.2.9)
            pending = Array(repeating: false, count: count)
        }

        func deliverable(_ vector: Int) -> Bool {
            enabled && !functionMasked && entries[vector * 4 + 3] & 1 == 0
        }

        func message(_ vector: Int) -> MSIMessage {
            MSIMessage(address: UInt64(entries[vector * 4]) | UInt64(entries[vector * 4 + 1]) << 32,
                       data: entries[vector * 4 + 2])
        }

        /// The pending vectors that may now go out, cleared.
        mutating func takeReleased(into messages: inout [(Int, MSIMessage)]) {
            for vector in pending.indices where pending[vector] && deliverable(vector) {
                pending[vector] = false
                messages.append((vector, message(vector)))
            }
        }
    }

    public let count: Int
    public let bar: Int
    /// Where the pending bit array starts in the BAR, after the table, 8-byte aligned.
    public let pendingOffset: UInt64
    private let state: Mutex<State>
    /// Each vector's eventfd route; nil where no eventfd could be made (then plain `send`).
    private let routes: [MSIEventRoute?]
    private var capabilityOffset = 0
    private var sink: (any InterruptSink)?

    /// `count` vectors (1 to 2048) in BAR `bar`.
    public init(count: Int, bar: Int) {
        precondition((1...2048).contains(count))
        self.count = count
        self.bar = bar
        pendingOffset = UInt64((count * Self.entrySize + 0x7FF) & ~0x7FF)
        state = Mutex(State(count: count))
        routes = (0..<count).map { _ in try? MSIEventRoute() }
    }

    /// The BAR size that holds the table and the pending bits.
    public var barSize: UInt64 {
        let end = pendingOffset + UInt64((count + 63) / 64 * 8)
        return max(0x1000, UInt64(1) << UInt64(64 - (end - 1).leadingZeroBitCount))
    }

    /// Adds the capability to `space`: message control (table size N-1, function mask and enable
    /// writable), then the table and PBA offsets with their BAR indicator.
    public func addCapability(to space: inout PCIConfigurationSpace) {
        let control = UInt16(count - 1)
        let table = UInt32(bar)
        let pending = UInt32(truncatingIfNeeded: pendingOffset) | UInt32(bar)
        var body = [UInt8(truncatingIfNeeded: control), UInt8(truncatingIfNeeded: control >> 8)]
        for word in [table, pending] { body += (0..<4).map { UInt8(truncatingIfNeeded: word >> (8 * $0)) } }
        capabilityOffset = space.addCapability(id: Self.capabilityID, body: body, writableMask: [0, 0, 0, 0xC0])
    }

    /// Where messages go: the machine's interrupt router.
    public func connect(_ sink: any InterruptSink) { self.sink = sink }

    /// Re-reads the enable and function mask bits after a configuration write and sends what
    /// they release.
    public func configurationWritten(_ configuration: PCIConfiguration, offset: Int, size: Int) {
        guard offset < capabilityOffset + 4, offset + size > capabilityOffset + 2 else { return }
        let control = UInt16(truncatingIfNeeded: configuration.read(offset: capabilityOffset + 2, size: 2))
        var released: [(Int, MSIMessage)] = []
        state.withLock { state in
            state.enabled = control & Self.enableBit != 0
            state.functionMasked = control & Self.functionMaskBit != 0
            state.takeReleased(into: &released)
        }
        released.forEach { deliver($0.1, vector: $0.0) }
    }

    /// Signals `vector`: sent now if deliverable, else left pending. A vector number past the
    /// table (virtio's NO_VECTOR, say) signals nothing.
    public func signal(_ vector: Int) {
        guard vector >= 0, vector < count else { return }
        let message: MSIMessage? = state.withLock { state in
            guard state.deliverable(vector) else {
                state.pending[vector] = true
                return nil
            }
            return state.message(vector)
        }
        if let message { deliver(message, vector: vector) }
    }

    /// Outside the table's lock: through the vector's route (an irqfd where the sink has them).
    private func deliver(_ message: MSIMessage, vector: Int) {
        guard let sink else { return }
        if let route = routes[vector] { sink.send(message, through: route) } else { sink.send(message) }
    }

    /// Back to reset: every vector masked and not pending, MSI-X off.
    public func reset() { state.withLock { $0 = State(count: count) } }

    /// A read of the BAR: table dwords, or pending bits; a qword access reads two dwords.
    public func read(offset: UInt64, size: Int) -> UInt64 {
        state.withLock { state in
            var value: UInt64 = 0
            for index in 0..<size { value |= UInt64(byte(of: state, at: offset + UInt64(index))) << (8 * index) }
            return value
        }
    }

    /// A write of the BAR: table entries only (the pending bits are read-only); unmasking a
    /// pending vector sends it.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        guard size == 4 || size == 8, offset % UInt64(size) == 0 else { return }
        var released: [(Int, MSIMessage)] = []
        state.withLock { state in
            for dword in 0..<size / 4 {
                let index = Int((offset >> 2) + UInt64(dword))
                guard index < state.entries.count else { return }
                let word = UInt32(truncatingIfNeeded: value >> (32 * dword))
                // Vector control: only the mask bit is defined (6.8.2.9).
                state.entries[index] = index % 4 == 3 ? word & 1 : word
            }
            state.takeReleased(into: &released)
        }
        released.forEach { deliver($0.1, vector: $0.0) }
    }

    /// Byte `offset` of the BAR: a table byte, a pending bit array byte, or zero in between.
    private func byte(of state: State, at offset: UInt64) -> UInt8 {
        if offset < UInt64(state.entries.count * 4) {
            return UInt8(truncatingIfNeeded: state.entries[Int(offset / 4)] >> (8 * (offset % 4)))
        }
        guard offset >= pendingOffset, offset < pendingOffset + UInt64((count + 7) / 8) else { return 0 }
        let first = Int(offset - pendingOffset) * 8
        var bits: UInt8 = 0
        for bit in 0..<8 where first + bit < count && state.pending[first + bit] { bits |= 1 << bit }
        return bits
    }
}
