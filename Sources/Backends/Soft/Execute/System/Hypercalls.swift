import VMMKit

/// VMCALL (0F 01 C1, Intel) and VMMCALL (0F 01 D9, AMD): a guest asking its hypervisor for a
/// service. KVM answers both on either vendor with its hypercall ABI (Documentation/virt/kvm/x86/
/// hypercalls.rst): the number in RAX, arguments in RBX, RCX, RDX, RSI, the result in RAX and no
/// other register changed; a hypercall from CPL > 0 gets -KVM_EPERM and an unknown number
/// -KVM_ENOSYS. The Soft CPU answers the same way, so a guest written for KVM never sees #UD. A
/// hypercall whose interface `--pv` turned off is unknown, as on a KVM host whose CPUID lacks it
/// (kvm_emulate_hypercall checks guest_pv_has). A device claiming the instruction (Xen's HVM
/// interface, `HypercallHooks`) answers instead, as KVM hands every VMCALL to its Xen emulation
/// once KVM_XEN_HVM_CONFIG_INTERCEPT_HCALL is set.
extension CPUCore {
    enum HypercallResult {
        static let notPermitted: Int64 = -1 // -KVM_EPERM
        static let invalid: Int64 = -22 // -KVM_EINVAL
        static let notImplemented: Int64 = -1000 // -KVM_ENOSYS
    }

    /// The numbers of include/uapi/linux/kvm_para.h that the Soft CPU answers.
    enum HypercallNumber {
        /// "A no-op hypercall, used to make the guest exit to inject an interrupt"; here the
        /// instruction boundary after it already delivers one.
        static let vapicPollIRQ: UInt64 = 1
        static let kickCPU: UInt64 = 5
        static let sendIPI: UInt64 = 10
        static let schedYield: UInt64 = 11
    }

    mutating func hypercall() {
        // Outside 64-bit mode the number, arguments and result are 32 bits wide (kvm_emulate_hypercall).
        let wide = in64BitMode
        let mask: UInt64 = wide ? .max : 0xffff_ffff
        let number = gpr[0] & mask
        if let hypercallHandler {
            // Counted apart from KVM's numbers, which these are not.
            statistics.hypercall.increment()
            statistics.hypercallOther.increment()
            gpr[0] = hypercallHandler.hypercall(number, vcpu: vcpuIndex, cpl: Int(cpl)) & mask
            return
        }
        statistics.countHypercall(number)
        let result: Int64
        if cpl != 0 {
            result = HypercallResult.notPermitted
        } else {
            let features = paravirtual
            switch number {
            case HypercallNumber.vapicPollIRQ:
                result = 0
            case HypercallNumber.kickCPU where features.contains(.pvUnhalt):
                // RBX: flags (none defined), RCX: the APIC ID to wake; APIC IDs are vCPU indices here.
                kickHaltedCPU(apicID: gpr[1] & mask)
                result = 0
            case HypercallNumber.sendIPI where features.contains(.pvIPI):
                result = sendInterprocessorInterrupts(
                    bitmapLow: gpr[3] & mask, bitmapHigh: gpr[1] & mask, lowestID: gpr[2] & 0xffff_ffff,
                    command: gpr[6] & mask, clusterSize: wide ? 64 : 32)
            case HypercallNumber.schedYield where features.contains(.pvSchedYield):
                // RBX: the APIC ID of the vCPU to yield to. Every Soft vCPU is its own host thread,
                // which the host schedules; there is no preempted vCPU for vmm to run instead.
                result = 0
            default:
                result = HypercallResult.notImplemented
            }
        }
        gpr[0] = UInt64(bitPattern: result) & mask
        // A kicked vCPU or an IPI sent to this one: look before the next block.
        breakBlock = true
        checkInterrupts = true
    }

    /// KVM_HC_KICK_CPU: the vCPU with that APIC ID leaves its HLT (now, or at its next one), even
    /// with interrupts off: Linux's paravirtual spinlocks halt that way until the lock is theirs.
    private func kickHaltedCPU(apicID: UInt64) {
        guard apicID < UInt64(machine.vcpuCount) else { return }
        machine.vcpuArbitration.requestUnhalt(vcpu: Int(apicID))
        machine.kick(vcpu: Int(apicID))
    }

    /// KVM_HC_SEND_IPI (kvm_pv_send_ipi): RBX and RCX are bitmaps of destination APIC IDs from RDX
    /// and from RDX + the cluster size (64 in 64-bit mode, else 32); RSI is the ICR's low word, whose
    /// destination mode must be physical and shorthand none (else -KVM_EINVAL). Each destination gets
    /// the message an ICR write would send it, as an MSI to the machine's interrupt controller.
    /// Returns how many destinations exist and got it.
    private func sendInterprocessorInterrupts(bitmapLow: UInt64, bitmapHigh: UInt64, lowestID: UInt64,
                                              command: UInt64, clusterSize: UInt64) -> Int64 {
        let logicalDestination: UInt64 = 1 << 11, shorthand: UInt64 = 3 << 18
        guard command & (logicalDestination | shorthand) == 0 else { return HypercallResult.invalid }
        // The ICR's vector, delivery mode, level and trigger mode sit where an MSI's data has them.
        let data = UInt32(truncatingIfNeeded: command) & 0xc7ff
        return send(data, to: bitmapLow, from: lowestID) + send(data, to: bitmapHigh, from: lowestID &+ clusterSize)
    }

    private func send(_ data: UInt32, to bitmap: UInt64, from base: UInt64) -> Int64 {
        var sent: Int64 = 0
        var remaining = bitmap
        while remaining != 0 {
            let id = base &+ UInt64(remaining.trailingZeroBitCount)
            remaining &= remaining &- 1
            guard id < UInt64(machine.vcpuCount) else { continue }
            machine.interruptRouter.send(MSIMessage(address: MSIMessage.interruptWindow.lowerBound | id << 12, data: data))
            sent += 1
        }
        return sent
    }
}
