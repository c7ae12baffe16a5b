import VMMKit

/// The two states in which a vCPU with userspace interrupt controllers sleeps outside KVM_RUN: HLT
/// (KVM_EXIT_HLT; KVM has no LAPIC to wait on) and an application processor's wait-for-SIPI. Both
/// block on the kicker, never spin; kicks come from the interrupt controller, stop requests, and the
/// last vCPU to block. A vCPU that returned `.haltedForever` is finished: a later INIT/SIPI from a
/// vCPU still running (one that took its own SIPI after the others halted) cannot restart it.
extension KVMVirtualCPU {
    /// Returns nil to resume the guest, or why the vCPU is done.
    func waitInHalt(_ controller: any InterruptController) -> VCPUStop? {
        // With RFLAGS.IF = 0 only an NMI or another vCPU can wake this one (SDM vol. 3, 6.8.1).
        let interruptsEnabled = kvmRun.pointee.if_flag != 0
        if !interruptsEnabled, vm.haltTracker.block() { vm.kickAll() }
        defer { if !interruptsEnabled { vm.haltTracker.unblock() } }
        while true {
            if runControl.isStopRequested { return .machineStopped }
            if controller.takeNonMaskableInterrupt(vcpu: index) {
                nmiPending = true
                return nil
            }
            if interruptsEnabled, controller.hasPendingInterrupt(vcpu: index) { return nil }
            if !interruptsEnabled, vm.haltTracker.isEveryVCPUBlocked { return .haltedForever }
            kicker.waitForKick()
        }
    }

    /// An application processor waits for INIT and a start-up IPI, then starts in real mode at the
    /// SIPI vector's page (SDM vol. 3, 8.4.4.1). INIT alone leaves it waiting, as on hardware.
    func waitForStartupIPI(_ controller: any InterruptController) throws -> VCPUStop? {
        if vm.haltTracker.block() { vm.kickAll() }
        defer { vm.haltTracker.unblock() }
        while true {
            if runControl.isStopRequested { return .machineStopped }
            // Signals first: a SIPI sent just before the sender halted still starts this vCPU.
            while let signal = controller.takeStartupSignal(vcpu: index) {
                guard case let .startup(vector) = signal else { continue }
                let state = KVMStartupState.afterStartupIPI(vector: vector)
                try setSystemRegisters(state.system)
                try setGeneralRegisters(state.general)
                return nil
            }
            if vm.haltTracker.isEveryVCPUBlocked { return .haltedForever }
            kicker.waitForKick()
        }
    }
}
