import VMMKit

/// KVM's paravirtual end of interrupt (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_PV_EOI_EN) with
/// vmm's own local APIC, on either backend.
///
/// The guest gives the address of a flag word. When vmm injects an interrupt that the guest may end
/// without telling the APIC, it sets bit 0 there; the guest's EOI routine then test-and-clears the
/// bit in one instruction and skips the EOI write (an exit) when it was set. vmm finds the bit clear
/// the next time the vCPU leaves guest code (or takes its next interrupt) and ends the interrupt
/// then, as the EOI write would have. The flag is touched only on the vCPU's own thread, between
/// guest instructions, so the guest needs no lock (msr.rst).
///
/// When the bit may be set: as KVM's apic_sync_pv_eoi_to_guest (arch/x86/kvm/lapic.c) decides,
/// only if nothing else waits in IRR (an interrupt the EOI would let in must not wait for some
/// later exit) and the vector is edge-triggered (a level-triggered one's EOI must reach the IOAPIC).
/// It is set only at injection, for the vector just taken: an EOI always ends the highest vector in
/// service, which is then that vector. If something reaches IRR while the bit is still set, vmm
/// takes the bit back at the next exit and the guest writes its EOI.
struct ParavirtualEOI {
    /// The MSR as the guest wrote it: bit 0 enable, bit 1 reserved, the rest the flag's address.
    var register: UInt64 = 0
    /// vmm set the guest's flag and has not looked at it since.
    var flagSet = false
    /// EOIs the guest made through the flag since `takeCompleted`, for the exit statistics.
    var completed = 0

    static let enable: UInt64 = 1
    static let reserved: UInt64 = 1 << 1

    var isEnabled: Bool { register & Self.enable != 0 }
    var flagAddress: UInt64 { register & ~(Self.enable | Self.reserved) }
}

extension LocalAPICState {
    /// WRMSR(MSR_KVM_PV_EOI_EN): false (#GP) for the reserved bit 1 (the address must be 4-byte
    /// aligned) or an enabled flag outside guest RAM (ROM included), as kvm_lapic_set_pv_eoi refuses them.
    mutating func setParavirtualEOI(_ value: UInt64, memory: GuestMemory) -> Bool {
        guard value & ParavirtualEOI.reserved == 0 else { return false }
        if value & ParavirtualEOI.enable != 0 {
            guard memory.ramPointer(at: value & ~ParavirtualEOI.enable, length: 4) != nil else { return false }
        }
        observeParavirtualEOI(memory: memory)
        paravirtualEOI.register = value
        return true
    }

    /// The vCPU left guest code: if vmm had set the flag, look at it. Clear: the guest ended the
    /// interrupt, so end it here. Still set: the guest has not reached its EOI yet; keep the
    /// permission unless something now waits in IRR, then take it back (the guest writes EOI).
    mutating func observeParavirtualEOI(memory: GuestMemory) {
        guard paravirtualEOI.flagSet else { return }
        guard let flag = memory.ramPointer(at: paravirtualEOI.flagAddress, length: 1) else {
            paravirtualEOI.flagSet = false
            return
        }
        let byte = flag.load(as: UInt8.self)
        if byte & 1 == 0 {
            paravirtualEOI.flagSet = false
            paravirtualEOI.completed += 1
            _ = endOfInterrupt() // edge-triggered: nothing to broadcast
        } else if !requests.isEmpty {
            flag.storeBytes(of: byte & ~1, as: UInt8.self)
            paravirtualEOI.flagSet = false
        }
    }

    /// After INTA took `vector` into service: let the guest skip its EOI when that is safe.
    mutating func armParavirtualEOI(for vector: UInt8, memory: GuestMemory) {
        guard paravirtualEOI.isEnabled, !paravirtualEOI.flagSet, requests.isEmpty,
              !levelTriggered.contains(vector), inService.highest == vector,
              let flag = memory.ramPointer(at: paravirtualEOI.flagAddress, length: 1) else { return }
        flag.storeBytes(of: flag.load(as: UInt8.self) | 1, as: UInt8.self)
        paravirtualEOI.flagSet = true
    }
}
