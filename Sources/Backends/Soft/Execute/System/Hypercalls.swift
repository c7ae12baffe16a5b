/// VMCALL (0F 01 C1, Intel) and VMMCALL (0F 01 D9, AMD): a guest asking its hypervisor for a
/// service. KVM answers both on either vendor with its hypercall ABI (Documentation/virt/kvm/x86/
/// hypercalls.rst): the number in RAX, arguments in RBX, RCX, RDX, RSI, the result in RAX and no
/// other register changed; a hypercall from CPL > 0 gets -KVM_EPERM and an unknown number
/// -KVM_ENOSYS. The Soft CPU answers the same way, so a guest written for KVM never sees #UD.
extension CPUCore {
    enum HypercallResult {
        static let notPermitted: Int64 = -1 // -KVM_EPERM
        static let notImplemented: Int64 = -1000 // -KVM_ENOSYS
    }

    /// KVM_HC_VAPIC_POLL_IRQ: "a no-op hypercall, used to make the guest exit to inject an
    /// interrupt"; here the instruction boundary after it already delivers one.
    static let vapicPollIRQ: UInt64 = 1

    mutating func hypercall() {
        statistics.hypercall.increment()
        // Outside 64-bit mode the number and the result are 32 bits wide (KVM: kvm_emulate_hypercall).
        let wide = in64BitMode
        let number = wide ? gpr[0] : gpr[0] & 0xffff_ffff
        let result: Int64
        if cpl != 0 {
            result = HypercallResult.notPermitted
        } else if number == Self.vapicPollIRQ {
            result = 0
        } else {
            result = HypercallResult.notImplemented
        }
        gpr[0] = wide ? UInt64(bitPattern: result) : UInt64(UInt32(truncatingIfNeeded: result))
    }
}
