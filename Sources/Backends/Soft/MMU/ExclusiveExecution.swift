import Glibc
import Synchronization

/// Machine-wide exclusive execution: one vCPU runs while every other one waits between instructions.
/// It is the Soft CPU's bus lock, taken where a host atomic cannot do the job: a LOCKed operand split
/// across words or pages, or on MMIO (SDM vol. 3, 9.1.2.2: the processor locks the bus for it), and a
/// page that newly holds decoded code, whose write-TLB entries every vCPU must drop before the code
/// is read so that no later write by any of them misses the trap (SDM vol. 3, 9.1.3).
///
/// A vCPU counts as "away" (`VCPUSignals.away`) while it executes no guest instruction: asleep, not
/// started, stopped, parked here, or itself waiting to own the section. The owner sets `requested`,
/// kicks the others and waits until each is away; they park at their next block boundary (the kick
/// flag is polled there, in translated code too) and resume, catching up with the code map, when the
/// owner is done. `requested` and `away` form a Dekker pair (each side stores its own, then loads the
/// other's, sequentially consistent), so a vCPU leaving a sleep never runs through an exclusive
/// section unnoticed.
final class ExclusiveExecution: @unchecked Sendable {
    private let owned = Atomic<Bool>(false)
    private let requested = Atomic<Bool>(false)

    /// Becomes the only vCPU running guest instructions; `members` are every vCPU's signals.
    func begin(_ signals: VCPUSignals, members: [VCPUSignals]) {
        signals.away.store(true, ordering: .sequentiallyConsistent)
        while !owned.compareExchange(expected: false, desired: true, ordering: .sequentiallyConsistent).exchanged {
            sched_yield()
        }
        signals.away.store(false, ordering: .sequentiallyConsistent)
        requested.store(true, ordering: .sequentiallyConsistent)
        for member in members where member !== signals {
            member.kick()
            while !member.away.load(ordering: .sequentiallyConsistent) { sched_yield() }
        }
    }

    func end(_ signals: VCPUSignals, members: [VCPUSignals]) {
        requested.store(false, ordering: .sequentiallyConsistent)
        owned.store(false, ordering: .sequentiallyConsistent)
        for member in members where member !== signals { member.kick() }
    }

    /// Called by a vCPU about to run guest instructions (between blocks, or after a sleep): waits while
    /// another vCPU owns the machine. The caller then catches up with the code map.
    func waitOut(_ signals: VCPUSignals) {
        while true {
            signals.away.store(false, ordering: .sequentiallyConsistent)
            guard requested.load(ordering: .sequentiallyConsistent) else { return }
            signals.away.store(true, ordering: .sequentiallyConsistent)
            while requested.load(ordering: .sequentiallyConsistent) { signals.waitForKick() }
        }
    }
}

extension CPUCore {
    /// Enters the exclusive section (with several vCPUs; alone, this vCPU is exclusive already) and
    /// catches up with write-trap changes made by an earlier owner. Decoded code is left for the next
    /// `synchronizeCodeMap()` between blocks, since this may run in the middle of decoding a block.
    /// Sections nest (a split locked write that overwrites code flushes inside its own section).
    mutating func beginExclusive() {
        guard machine.vcpuCount > 1 else { return }
        exclusiveNesting &+= 1
        guard exclusiveNesting == 1 else { return }
        physical.code.exclusive.begin(signals, members: physical.code.memberSignals)
        synchronizeWriteTraps()
    }

    mutating func endExclusive() {
        guard machine.vcpuCount > 1 else { return }
        exclusiveNesting &-= 1
        guard exclusiveNesting == 0 else { return }
        physical.code.exclusive.end(signals, members: physical.code.memberSignals)
    }
}
