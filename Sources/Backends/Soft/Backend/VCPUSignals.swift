import Dispatch
import Synchronization

/// How other threads get a vCPU's attention: a flag the execution loop polls once per block, and a
/// semaphore a halted vCPU sleeps on (no busy waiting).
final class VCPUSignals: Sendable {
    private let kicked = Atomic<Bool>(false)
    private let wakeUp = DispatchSemaphore(value: 0)

    @inline(__always)
    var isKicked: Bool { kicked.load(ordering: .relaxed) }

    func kick() {
        kicked.store(true, ordering: .releasing)
        wakeUp.signal()
    }

    func clear() { kicked.store(false, ordering: .relaxed) }

    /// Sleeps until the next kick (or returns at once if one arrived since the last wait).
    func waitForKick() { wakeUp.wait() }
}
