import CKVM
import VMMKit

/// The two states in which a vCPU with userspace interrupt controllers sleeps outside KVM_RUN: HLT
/// (KVM_EXIT_HLT; KVM has no LAPIC to wait on) and an application processor's wait-for-SIPI. The
/// rules are `VCPUArbitration`'s; here is only how a KVM vCPU sleeps (on its kicker, never
/// spinning) and what it does with what woke it.
extension KVMVirtualCPU {
    /// Returns nil to resume the guest, or why the vCPU is done.
    func waitInHalt(_ source: (any InterruptSource)?) throws -> VCPUStop? {
        // KVM queues an NMI behind one being handled itself, so one can always be taken.
        let wake = arbitration.waitInHalt(vcpu: index, interruptsEnabled: kvmRun.pointee.if_flag != 0,
                                          acceptsNMI: true, source: source, sleep: { sleepUntilKicked() })
        // The kick that woke the vCPU also asked KVM_RUN to return at once (immediate_exit), which
        // would cost a wasted entry and exit; what it announced has been seen, and anything kicked
        // from here on is looked at again before the next entry (the stop check, prepareInterrupts).
        ckvm_clear_immediate_exit(kvmRun)
        switch wake {
        case .interrupt, .unhalted:
            return nil
        case .nonMaskableInterrupt:
            nmiPending = true
            return nil
        case .initialize:
            return try waitForStartupIPI(source)
        case let .stop(stop):
            return stop
        }
    }

    /// A debugger's pause parks the vCPU here, asleep as it is.
    private func sleepUntilKicked() {
        kicker.waitForKick()
        if debugControl.isPauseRequested { debugControl.park(vcpu: index) }
    }

    /// An application processor waits for INIT and a start-up IPI, then starts in real mode at the
    /// SIPI vector's page (SDM vol. 3, 8.4.4.1).
    func waitForStartupIPI(_ source: (any InterruptSource)?) throws -> VCPUStop? {
        switch arbitration.waitForStartup(vcpu: index, source: source, sleep: { sleepUntilKicked() }) {
        case let .start(vector):
            let state = KVMStartupState.afterStartupIPI(vector: vector)
            try setSystemRegisters(state.system)
            try setGeneralRegisters(state.general)
            return nil
        case let .stop(stop):
            return stop
        }
    }
}
