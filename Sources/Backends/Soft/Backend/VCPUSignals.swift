import Dispatch
import Synchronization

/// How other threads get a vCPU's attention: a flag the execution loop polls once per block, and a
/// semaphore a halted vCPU sleeps on (no busy waiting).
final class VCPUSignals: @unchecked Sendable {
    /// In its own allocation so that translated code can poll it by address (`kickFlagAddress`); an
    /// `Atomic<Bool>` is one byte holding 0 or 1.
    private let kicked: UnsafeMutablePointer<Atomic<Bool>>
    private let wakeUp = DispatchSemaphore(value: 0)
    /// True while the vCPU runs no guest instruction (see `ExclusiveExecution`); it starts away.
    let away = Atomic<Bool>(true)

    init() {
        kicked = .allocate(capacity: 1)
        kicked.initialize(to: Atomic(false))
    }

    deinit {
        kicked.deinitialize(count: 1)
        kicked.deallocate()
    }

    @inline(__always)
    var isKicked: Bool { kicked.pointee.load(ordering: .relaxed) }

    var kickFlagAddress: UnsafeRawPointer { UnsafeRawPointer(kicked) }

    func kick() {
        kicked.pointee.store(true, ordering: .releasing)
        wakeUp.signal()
    }

    func clear() { kicked.pointee.store(false, ordering: .relaxed) }

    /// Sleeps until the next kick (or returns at once if one arrived since the last wait).
    func waitForKick() { wakeUp.wait() }
}
