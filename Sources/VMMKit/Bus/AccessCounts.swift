import Synchronization

/// How often each claim of a bus was reached, per vCPU, for `--stats`' breakdown by device.
///
/// Each vCPU bumps only its own row (padded to whole cache lines, so vCPUs never share one), so a
/// count needs no read-modify-write atomic: one relaxed load and one relaxed store on the bus's hot
/// path, no lock and no allocation. Readers on other threads see a recent value.
public final class AccessCounts: @unchecked Sendable {
    public let claims: Int
    public let vcpus: Int
    /// Counters per vCPU row: `claims` rounded up to a multiple of 8 (64 bytes).
    let stride: Int
    /// Lives as long as this object; the bus keeps a copy of the pointer for its hot path.
    let storage: UnsafeMutablePointer<Atomic<UInt64>>

    init(claims: Int, vcpus: Int) {
        self.claims = claims
        self.vcpus = vcpus
        stride = (claims + 7) & ~7
        let count = max(stride * vcpus, 1)
        storage = .allocate(capacity: count)
        for index in 0..<count { (storage + index).initialize(to: Atomic(0)) }
    }

    deinit {
        storage.deinitialize(count: max(stride * vcpus, 1))
        storage.deallocate()
    }

    /// One access to claim `claim` by vCPU `vcpu`, on a bus's copy of `storage` (so the hot path
    /// touches no reference count); accesses from outside any vCPU (a test, the board) are not counted.
    @inline(__always)
    static func bump(_ storage: UnsafeMutablePointer<Atomic<UInt64>>, stride: Int, vcpus: Int, claim: Int, vcpu: Int) {
        guard vcpu >= 0, vcpu < vcpus else { return }
        let counter = storage + (vcpu * stride + claim)
        counter.pointee.store(counter.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// The counts of `claim`, one per vCPU.
    public func counts(claim: Int) -> [UInt64] {
        (0..<vcpus).map { (storage + ($0 * stride + claim)).pointee.load(ordering: .relaxed) }
    }
}
