#if canImport(Glibc)
import Glibc
#endif
import CKVM
import VMMKit

/// The vCPU's run loop: enter the guest with KVM_RUN, handle the exit, repeat (api.rst: KVM_RUN and "The kvm_run structure").
///
/// This is the hot path. Every exit is one ioctl, one switch on kvm_run->exit_reason, and a direct
/// call into the machine's buses through references the vCPU already holds: no allocation, no
/// retain/release of per-exit objects, kvm_run reached through one typed pointer.
extension KVMVirtualCPU {
    public func run() throws -> VCPUStop {
        kicker.attachCurrentThread()
        defer { kicker.detachThread() }
        // With the in-kernel irqchip KVM injects interrupts, runs HLT and holds APs in wait-for-SIPI
        // itself (its mp_state); with userspace controllers all three are ours.
        let userspaceInterrupts = vm.inKernelIRQChip == nil
        let source = userspaceInterrupts ? vm.machine.interruptSource : nil
        if userspaceInterrupts, index > 0, let stop = try waitForStartupIPI(source) { return stop }
        let progress = index == 0 ? KVMProgressWatch.start(for: self) : nil
        while true {
            if debugControl.isPauseRequested { debugControl.park(vcpu: index) }
            if runControl.isStopRequested { return .machineStopped }
            if let source {
                // Before entering: the flag taken back if handling the exit left an interrupt in
                // IRR (KVM checks at every entry too: apic_sync_pv_eoi_to_guest).
                synchronizeParavirtualEOI(source)
                try prepareInterrupts(source)
            }
            progress?.insideGuest.store(true, ordering: .relaxed)
            let result = ckvm_ioctl_value(fd, CKVM_RUN, 0)
            let error = errno
            progress?.insideGuest.store(false, ordering: .relaxed)
            ckvm_clear_immediate_exit(kvmRun)
            progress?.answerSampleRequest()
            if let source {
                noticeTaskPriority(source)
                // Before the exit is handled (a HLT must not wait on an interrupt the guest ended).
                synchronizeParavirtualEOI(source)
            }
            guard result == 0 else {
                // EINTR: a kick (immediate_exit or the kick signal); EAGAIN: KVM asks to be re-entered.
                // Either way the loop looks at the machine again before re-entering.
                guard error == EINTR || error == EAGAIN else { throw KVMError.ioctlFailed(name: "KVM_RUN", errno: error) }
                counters.other.increment()
                continue
            }
            if let stop = try handleExit(source) { return stop }
        }
    }

    /// An EOI the guest made through the PV EOI flag ends here (see LocalAPIC's ParavirtualEOI).
    @inline(__always)
    private func synchronizeParavirtualEOI(_ source: any InterruptSource) {
        let paravirtualEOIs = source.synchronizeAfterExit(vcpu: index)
        if paravirtualEOIs > 0 { counters.paravirtualEOIs.increment(by: UInt64(paravirtualEOIs)) }
    }

    @inline(__always)
    private func handleExit(_ source: (any InterruptSource)?) throws -> VCPUStop? {
        switch Int32(bitPattern: kvmRun.pointee.exit_reason) {
        case KVM_EXIT_IO:
            counters.portIO.increment()
            try handlePortIO()
        case KVM_EXIT_MMIO:
            counters.mmio.increment()
            try handleMMIO()
        case KVM_EXIT_IRQ_WINDOW_OPEN:
            // The guest can take an interrupt now; the next prepareInterrupts injects it.
            counters.interruptWindow.increment()
        case KVM_EXIT_SET_TPR:
            // CR8 changed; noticeTaskPriority already told the controller.
            counters.setTPR.increment()
        case KVM_EXIT_X86_RDMSR:
            counters.msr.increment()
            handleMSRRead()
        case KVM_EXIT_X86_WRMSR:
            counters.msr.increment()
            handleMSRWrite()
        case KVM_EXIT_HLT:
            counters.halt.increment()
            return try waitInHalt(source)
        case KVM_EXIT_INTR:
            counters.other.increment()
        default:
            counters.other.increment()
            return try handleExceptionalExit()
        }
        return nil
    }

    /// KVM_EXIT_IO: `count` items (more than one for REP INS/OUTS) of `size` bytes at data_offset.
    @inline(__always)
    private func handlePortIO() throws {
        let run = kvmRun
        let port = ckvm_io_port(run)
        let size = Int(ckvm_io_size(run))
        let count = Int(ckvm_io_count(run))
        let offset = ckvm_io_data_offset(run)
        guard size > 0, size <= 8, offset <= UInt64(runSize), count <= (runSize - Int(offset)) / size else {
            throw KVMError.malformedIOExit(port: port, offset: offset, bytes: count &* size)
        }
        var data = UnsafeMutableRawPointer(run) + Int(offset)
        let address = UInt64(port)
        if ckvm_io_direction(run) == UInt8(KVM_EXIT_IO_IN) {
            for _ in 0..<count {
                KVMDataWindow.store(ports.read(address, size: size, vcpu: index), bytes: size, to: data)
                data += size
            }
        } else {
            for _ in 0..<count {
                let value = KVMDataWindow.load(data, bytes: size)
                // A doorbell whose ioeventfd KVM refused (or one moved while this write was on its way).
                if ports.doorbells.ring(address, size: size, value: value) {
                    counters.doorbells.increment()
                } else {
                    ports.write(address, size: size, value: value, vcpu: index)
                }
                data += size
            }
        }
    }

    /// KVM_EXIT_MMIO: one access of 1 to 8 bytes; a read's value goes back in data[].
    @inline(__always)
    private func handleMMIO() throws {
        let run = kvmRun
        let address = ckvm_mmio_address(run)
        let length = Int(ckvm_mmio_length(run))
        guard length > 0, length <= 8, let data = ckvm_mmio_data(run) else {
            throw KVMError.unexpectedExit(name: "KVM_EXIT_MMIO", detail: "\(length)-byte access at 0x\(String(address, radix: 16))")
        }
        if ckvm_mmio_is_write(run) != 0 {
            let value = KVMDataWindow.load(data, bytes: length)
            if mmio.doorbells.ring(address, size: length, value: value) {
                counters.doorbells.increment()
            } else {
                mmio.write(address, size: length, value: value, vcpu: index)
            }
        } else {
            KVMDataWindow.store(mmio.read(address, size: length, vcpu: index), bytes: length, to: data)
        }
    }

    /// A filtered RDMSR (see KVMMSRFilter): the claiming device answers; error = 1 makes KVM raise #GP.
    private func handleMSRRead() {
        let msr = ckvm_msr_index(kvmRun)
        if let value = msrs.handler(for: msr)?.readMSR(msr, vcpu: index) {
            ckvm_msr_complete(kvmRun, value, 0)
        } else {
            ckvm_msr_complete(kvmRun, 0, 1)
        }
    }

    /// EFER.LMA (SDM vol. 3, 2.2.1), asked only by the MSR handlers that need it. A register
    /// state KVM cannot give (it always can while the vCPU is out of KVM_RUN) reads as not long mode.
    private func isInLongMode() -> Bool {
        let longModeActive: UInt64 = 1 << 10
        return ((try? kvmSystemRegisters().efer) ?? 0) & longModeActive != 0
    }

    private func handleMSRWrite() {
        let msr = ckvm_msr_index(kvmRun)
        let value = ckvm_msr_data(kvmRun)
        let accepted = msrs.handler(for: msr)?.writeMSR(msr, value: value, vcpu: index, isLongMode: { isInLongMode() }) ?? false
        ckvm_msr_complete(kvmRun, value, accepted ? 0 : 1)
    }
}
