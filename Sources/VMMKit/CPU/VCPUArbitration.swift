import Synchronization

/// The rules for a vCPU that runs no guest code, shared by both backends: HLT until something
/// deliverable arrives, an application processor's wait for a start-up IPI, and the machine being
/// off once every vCPU waits for something only another vCPU could send.
///
/// The backends differ only in how a vCPU sleeps (`sleep`: a kick wakes it) and in how they deliver
/// what woke it; the order of the checks and the halted-forever rule live here once.
/// A vCPU that returned `.haltedForever` is finished: a later INIT/SIPI from a vCPU still running
/// (one that took its own SIPI after the others halted) cannot restart it.
public final class VCPUArbitration: Sendable {
    private let vcpuCount: Int
    private let runControl: RunControl
    /// vCPUs halted with RFLAGS.IF = 0 or waiting for SIPI: only another vCPU (or an NMI) can wake them.
    private let blocked = Atomic<Int>(0)
    /// Once every vCPU was blocked at the same time, nothing can ever run again; stays true.
    private let everyoneBlocked = Atomic<Bool>(false)
    /// One bit per vCPU: another vCPU asked it to leave HLT (KVM_HC_KICK_CPU), which holds until its
    /// next HLT ends, as KVM's pv_unhalted does: a kick sent just before the HLT still ends it.
    private let unhaltRequests = Atomic<UInt64>(0)

    public init(vcpuCount: Int, runControl: RunControl) {
        self.vcpuCount = vcpuCount
        self.runControl = runControl
    }

    /// Why a halted vCPU resumes.
    public enum HaltWake: Equatable, Sendable {
        /// A maskable interrupt is deliverable (IF was 1): the backend acknowledges and delivers it.
        case interrupt
        /// An NMI was taken from the source: the backend must deliver it.
        case nonMaskableInterrupt
        /// An INIT reached an application processor: it goes back to waiting for SIPI.
        case initialize
        /// Another vCPU kicked this one (`requestUnhalt`): it resumes after the HLT, even with IF = 0.
        case unhalted
        case stop(VCPUStop)
    }

    /// Why a vCPU waiting for SIPI stops waiting.
    public enum StartupWake: Equatable, Sendable {
        /// Start in real mode at `vector` * 4096 (SDM vol. 3, 8.4.4.1).
        case start(vector: UInt8)
        case stop(VCPUStop)
    }

    /// HLT (SDM vol. 2, HLT; vol. 3, 6.8.1): waits until `vcpu` has something to take. With
    /// `interruptsEnabled` false only an NMI, an INIT or another vCPU can end the wait; `acceptsNMI`
    /// is false while an NMI handler runs (the NMI stays pending in the source until it is).
    public func waitInHalt(vcpu: Int, interruptsEnabled: Bool, acceptsNMI: Bool,
                           source: (any InterruptSource)?, sleep: () -> Void) -> HaltWake {
        if !interruptsEnabled { block() }
        let wake = haltWake(vcpu: vcpu, interruptsEnabled: interruptsEnabled, acceptsNMI: acceptsNMI,
                            source: source, sleep: sleep)
        // Unblocked before the kick is consumed, so that no other vCPU can find everyone blocked
        // while this one is about to run.
        if !interruptsEnabled { unblock() }
        unhaltRequests.bitwiseAnd(~(UInt64(1) << UInt64(vcpu)), ordering: .sequentiallyConsistent)
        return wake
    }

    /// KVM_HC_KICK_CPU from another vCPU: `vcpu`'s current or next HLT ends. The caller kicks it.
    public func requestUnhalt(vcpu: Int) {
        guard (0..<vcpuCount).contains(vcpu) else { return }
        unhaltRequests.bitwiseOr(UInt64(1) << UInt64(vcpu), ordering: .sequentiallyConsistent)
    }

    private func haltWake(vcpu: Int, interruptsEnabled: Bool, acceptsNMI: Bool,
                          source: (any InterruptSource)?, sleep: () -> Void) -> HaltWake {
        while true {
            if runControl.isStopRequested { return .stop(.machineStopped) }
            if unhaltRequests.load(ordering: .sequentiallyConsistent) & (UInt64(1) << UInt64(vcpu)) != 0 {
                return .unhalted
            }
            if let source {
                if vcpu > 0, source.takeStartupSignal(vcpu: vcpu) == .initialize { return .initialize }
                if acceptsNMI, source.takeNonMaskableInterrupt(vcpu: vcpu) { return .nonMaskableInterrupt }
                if interruptsEnabled, source.hasPendingInterrupt(vcpu: vcpu) { return .interrupt }
            }
            if !interruptsEnabled, isEveryVCPUBlocked { return .stop(.haltedForever) }
            sleep()
        }
    }

    /// An application processor waits for INIT and a start-up IPI (SDM vol. 3, 8.4.4.1). INIT alone
    /// leaves it waiting, as on hardware; a SIPI sent just before its sender halted still starts it.
    public func waitForStartup(vcpu: Int, source: (any InterruptSource)?, sleep: () -> Void) -> StartupWake {
        block()
        defer { unblock() }
        while true {
            if runControl.isStopRequested { return .stop(.machineStopped) }
            while let signal = source?.takeStartupSignal(vcpu: vcpu) {
                if case let .startup(vector) = signal { return .start(vector: vector) }
            }
            if isEveryVCPUBlocked { return .stop(.haltedForever) }
            sleep()
        }
    }

    /// Between boots, with no vCPU thread running: the machine is on again.
    func reset() {
        blocked.store(0, ordering: .sequentiallyConsistent)
        unhaltRequests.store(0, ordering: .sequentiallyConsistent)
        everyoneBlocked.store(false, ordering: .sequentiallyConsistent)
    }

    private func block() {
        guard blocked.add(1, ordering: .sequentiallyConsistent).newValue == vcpuCount,
              unhaltRequests.load(ordering: .sequentiallyConsistent) == 0 else { return }
        everyoneBlocked.store(true, ordering: .sequentiallyConsistent)
        // The others sleep until kicked; a stop request kicks every vCPU, and they all see the flag.
        runControl.wakeEveryVCPU()
    }

    private func unblock() { blocked.subtract(1, ordering: .sequentiallyConsistent) }

    private var isEveryVCPUBlocked: Bool { everyoneBlocked.load(ordering: .sequentiallyConsistent) }
}
