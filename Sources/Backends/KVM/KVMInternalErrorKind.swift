/// Names of KVM_EXIT_INTERNAL_ERROR suberrors (linux/kvm.h).
enum KVMInternalErrorKind {
    static func name(_ suberror: UInt32) -> String {
        switch suberror {
        case 1: return "KVM_INTERNAL_ERROR_EMULATION (the instruction emulator failed)"
        case 2: return "KVM_INTERNAL_ERROR_SIMUL_EX (an exception occurred while delivering an exception)"
        case 3: return "KVM_INTERNAL_ERROR_DELIVERY_EV (event delivery hit an exit KVM cannot handle)"
        case 4: return "KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON (an exit KVM does not handle)"
        default: return "suberror \(suberror)"
        }
    }
}
