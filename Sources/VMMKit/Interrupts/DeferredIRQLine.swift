import Synchronization

/// An IRQ line a device moves with its own lock released, as the board's rule asks (a device never
/// calls into the interrupt controllers while holding its lock).
///
/// Under its lock the device `request`s the level its registers now call for; after unlocking it
/// calls `settle`, which drives the line to the last level requested. Requests from two threads can
/// settle in either order, so the line is not driven from the requests themselves: each request
/// that changes the level counts one transition (an odd count means high), and one settler at a
/// time drives the line through the transitions not yet driven. A settler that finds another at
/// work (on another thread, or itself further up the stack when the controller's reaction reached
/// back into the device) leaves its transitions to that one, which loops until none are left; so
/// settling never blocks and never recurses. When transitions cancel out (low, high, low again
/// before anyone settled) the line still gets one rise and fall, so an edge-triggered input (the
/// 8259 in edge mode, an IOAPIC edge pin) misses no edge.
public final class DeferredIRQLine: @unchecked Sendable {
    public let line: IRQLine
    /// Transitions requested; written only under the owning device's lock, read by the settler.
    private let requested = Atomic<UInt64>(0)
    /// Whether a settler is driving the line; it alone writes `driven`.
    private let settling = Atomic<Bool>(false)
    /// Transitions driven onto the line.
    private let driven = Atomic<UInt64>(0)

    public init(_ line: IRQLine) { self.line = line }

    /// The level last requested, for the device's own bookkeeping.
    public var isHigh: Bool { requested.load(ordering: .relaxed) & 1 == 1 }

    /// Records that the device's state now asks for `high`. Call under the device's lock.
    public func request(high: Bool) {
        let count = requested.load(ordering: .relaxed)
        guard (count & 1 == 1) != high else { return }
        requested.store(count + 1, ordering: .releasing)
    }

    /// Records a rise and a fall (an edge-triggered source's pulse). Call under the device's lock.
    public func requestPulse() {
        request(high: true)
        request(high: false)
    }

    /// Drives the line to the last level requested, or leaves that to the settler already at it.
    /// Call with the device's lock released.
    public func settle() {
        // Nothing new (the common case: a register access that left the level alone): two loads.
        guard requested.load(ordering: .acquiring) != driven.load(ordering: .acquiring) else { return }
        while settling.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged {
            var done = driven.load(ordering: .relaxed)
            var target = requested.load(ordering: .acquiring)
            while target != done {
                drive(from: done, to: target)
                done = target
                driven.store(done, ordering: .releasing)
                target = requested.load(ordering: .acquiring)
            }
            settling.store(false, ordering: .releasing)
            // A request that arrived after the last look and before the release found the line
            // busy and left; look once more so it is not stranded.
            guard requested.load(ordering: .acquiring) != target else { return }
        }
    }

    private func drive(from driven: UInt64, to target: UInt64) {
        let wasHigh = driven & 1 == 1
        if (target &- driven) & 1 == 0 {
            // Back at the same level: replay one excursion so the edge is seen.
            if wasHigh { line.lower(); line.raise() } else { line.raise(); line.lower() }
        } else if wasHigh {
            line.lower()
        } else {
            line.raise()
        }
    }
}
