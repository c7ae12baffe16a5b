import CKVM
import VMMKit

/// Interrupt delivery from userspace interrupt controllers (api.rst: KVM_INTERRUPT, KVM_NMI,
/// and kvm_run's request_interrupt_window / ready_for_interrupt_injection / if_flag / cr8).
extension KVMVirtualCPU {
    /// Before each entry: inject an NMI or an interrupt the guest can take now, or ask KVM to exit as
    /// soon as it can (an interrupt window); and give KVM the controller's task priority as CR8.
    @inline(__always)
    func prepareInterrupts(_ controller: any InterruptSource) throws {
        let run = kvmRun
        if nmiPending || controller.takeNonMaskableInterrupt(vcpu: index) {
            nmiPending = false
            try KVMIoctl.value(fd, CKVM_NMI, 0, "KVM_NMI")
            counters.interruptsInjected.increment()
        }
        if controller.hasPendingInterrupt(vcpu: index) {
            if run.pointee.ready_for_interrupt_injection != 0, run.pointee.if_flag != 0 {
                if let vector = controller.acknowledgeInterrupt(vcpu: index) {
                    var interrupt = kvm_interrupt(irq: UInt32(vector))
                    try KVMIoctl.call(fd, CKVM_INTERRUPT, &interrupt, "KVM_INTERRUPT")
                    counters.interruptsInjected.increment()
                }
                // One injection per entry: if more are waiting, come back when the guest can take one.
                run.pointee.request_interrupt_window = controller.hasPendingInterrupt(vcpu: index) ? 1 : 0
            } else {
                run.pointee.request_interrupt_window = 1
            }
        } else {
            run.pointee.request_interrupt_window = 0
        }
        // CR8 holds TPR[7:4] as its low nibble (SDM vol. 3, 10.8.6.1).
        let priority = controller.taskPriority(vcpu: index) & 0xf
        lastTaskPriority = priority
        run.pointee.cr8 = UInt64(priority)
    }

    /// After each exit: a guest MOV to CR8 shows up in kvm_run->cr8; the controller learns of it.
    @inline(__always)
    func noticeTaskPriority(_ controller: any InterruptSource) {
        let priority = UInt8(truncatingIfNeeded: kvmRun.pointee.cr8 & 0xf)
        guard priority != lastTaskPriority else { return }
        lastTaskPriority = priority
        controller.setTaskPriority(vcpu: index, priority)
    }
}
