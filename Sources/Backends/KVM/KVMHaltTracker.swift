import Synchronization

/// Counts the vCPUs of a VM that only another vCPU could wake: halted with RFLAGS.IF = 0, or waiting
/// for a start-up IPI. When all of them are, nothing can ever run again and the machine is off.
final class KVMHaltTracker: Sendable {
    private let vcpuCount: Int
    private let blocked = Atomic<Int>(0)
    private let everyoneBlocked = Atomic<Bool>(false)

    init(vcpuCount: Int) { self.vcpuCount = vcpuCount }

    /// Records one more blocked vCPU; true when it was the last one still able to run.
    func block() -> Bool {
        let now = blocked.add(1, ordering: .sequentiallyConsistent).newValue
        guard now == vcpuCount else { return false }
        everyoneBlocked.store(true, ordering: .sequentiallyConsistent)
        return true
    }

    func unblock() { blocked.subtract(1, ordering: .sequentiallyConsistent) }

    /// Once true, stays true: every vCPU returns `.haltedForever`.
    var isEveryVCPUBlocked: Bool { everyoneBlocked.load(ordering: .sequentiallyConsistent) }
}
