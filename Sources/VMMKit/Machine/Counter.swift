import Synchronization

/// A statistics counter many vCPU threads may bump at once (a relaxed atomic: it orders nothing).
public final class Counter: Sendable {
    private let storage = Atomic<UInt64>(0)

    public init() {}

    @inline(__always)
    public func increment(by amount: UInt64 = 1) {
        storage.add(amount, ordering: .relaxed)
    }

    public var value: UInt64 { storage.load(ordering: .relaxed) }
}
