#if canImport(Glibc)
import Glibc
#endif
import CKVM
import VMMKit

/// The guest's CPUID: what KVM can virtualize (KVM_GET_SUPPORTED_CPUID in api.rst), made per-vCPU,
/// trimmed of what a userspace interrupt controller cannot back, then adjusted by the devices' hooks
/// and installed with KVM_SET_CPUID2.
enum KVMCPUID {
    private static let headerSize = MemoryLayout<kvm_cpuid2>.size
    private static let entryStride = MemoryLayout<kvm_cpuid_entry2>.stride
    /// CPUID.1:ECX.x2APIC[bit 21] (SDM vol. 2A, CPUID). x2APIC MSRs reach only KVM's own LAPIC.
    private static let x2APICBit: UInt32 = 1 << 21

    static func supportedEntries(system: KVMSystem) throws(KVMError) -> [kvm_cpuid_entry2] {
        var capacity = 128
        while true {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: headerSize + capacity * entryStride, alignment: 8)
            defer { buffer.deallocate() }
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: headerSize + capacity * entryStride)
            buffer.assumingMemoryBound(to: kvm_cpuid2.self).pointee.nent = UInt32(capacity)
            if ckvm_ioctl(system.fd, CKVM_GET_SUPPORTED_CPUID, buffer) >= 0 {
                let count = Int(buffer.assumingMemoryBound(to: kvm_cpuid2.self).pointee.nent)
                let entries = (buffer + headerSize).assumingMemoryBound(to: kvm_cpuid_entry2.self)
                return Array(UnsafeBufferPointer(start: entries, count: min(count, capacity)))
            }
            // E2BIG: the array was too small (api.rst, KVM_GET_SUPPORTED_CPUID); anything else is a real failure.
            guard errno == E2BIG, capacity < 4096 else {
                throw .ioctlFailed(name: "KVM_GET_SUPPORTED_CPUID", errno: errno)
            }
            capacity *= 2
        }
    }

    /// KVM's paravirtual feature bits (cpuid.rst) as KVM reports them, less the interfaces `--pv`
    /// turned off and, with vmm's local APIC, those KVM implements on its own in-kernel APIC only:
    /// PV EOI (the userspace APIC adds its own), PV unhalt, PV IPIs and directed yield find their
    /// target through KVM's APIC map (kvm_pv_kick_cpu_op, kvm_pv_send_ipi, kvm_sched_yield), and
    /// async page faults are delivered through that APIC.
    static func kvmFeatures(reported: UInt32, offered: ParavirtualFeatures, userspaceAPIC: Bool) -> UInt32 {
        var features = reported
        if !offered.contains(.kvmclock) {
            features &= ~(KVMCPUIDFeature.clocksource | KVMCPUIDFeature.clocksource2 | KVMCPUIDFeature.clocksourceStable)
        }
        if !offered.contains(.pvIODelay) { features &= ~KVMCPUIDFeature.nopIODelay }
        if !offered.contains(.pvEOI) || userspaceAPIC { features &= ~KVMCPUIDFeature.pvEOI }
        if !offered.contains(.pvUnhalt) || userspaceAPIC { features &= ~KVMCPUIDFeature.pvUnhalt }
        if !offered.contains(.pvIPI) || userspaceAPIC { features &= ~KVMCPUIDFeature.pvSendIPI }
        if !offered.contains(.pvSchedYield) || userspaceAPIC { features &= ~KVMCPUIDFeature.pvSchedYield }
        if userspaceAPIC { features &= ~KVMCPUIDFeature.asyncPFInterrupt }
        return features
    }

    /// KVM's own leaves (the first range of the hypervisor leaves in KVM_GET_SUPPORTED_CPUID) moved
    /// to `CPUIDHooks.kvmLeafBase(offering:)`, or dropped where the guest is to find none, plus an
    /// empty entry for each leaf a device defined (its hook fills it).
    static func hypervisorPlacement(of supported: [kvm_cpuid_entry2], machine: Machine) -> [kvm_cpuid_entry2] {
        let kvmRange = KVMCPUIDFeature.signatureLeaf..<(KVMCPUIDFeature.signatureLeaf + CPUIDHooks.hypervisorRangeSize)
        let base = machine.cpuid.kvmLeafBase(offering: machine.paravirtual)
        var placed: [kvm_cpuid_entry2] = supported.compactMap { entry in
            guard kvmRange.contains(entry.function) else { return entry }
            guard let base else { return nil }
            var moved = entry
            moved.function = entry.function - KVMCPUIDFeature.signatureLeaf + base
            // The signature leaf's EAX is the highest KVM leaf.
            if entry.function == KVMCPUIDFeature.signatureLeaf { moved.eax = entry.eax - KVMCPUIDFeature.signatureLeaf + base }
            return moved
        }
        for leaf in machine.cpuid.definedLeaves where !placed.contains(where: { $0.function == leaf }) {
            var entry = kvm_cpuid_entry2()
            entry.function = leaf
            placed.append(entry)
        }
        return placed
    }

    /// The entries vCPU `vcpu` gets.
    static func entries(from supported: [kvm_cpuid_entry2], vcpu: Int, machine: Machine) -> [kvm_cpuid_entry2] {
        let apicID = UInt32(truncatingIfNeeded: vcpu)
        let userspaceAPIC = machine.interruptControllerPlacement == .userspace
        let kvmFeaturesLeaf = machine.cpuid.kvmLeafBase + KVMCPUIDFeature.featuresOffset
        return hypervisorPlacement(of: supported, machine: machine).map { placedEntry in
            var entry = placedEntry
            switch entry.function {
            case 1:
                // EBX[31:24]: initial APIC ID.
                entry.ebx = (entry.ebx & 0x00ff_ffff) | (apicID << 24)
                if userspaceAPIC { entry.ecx &= ~x2APICBit }
            case 0xb, 0x1f:
                // EDX: x2APIC ID of this logical processor (extended topology leaves).
                entry.edx = apicID
            case 0x8000_0007 where machine.paravirtual.contains(.kvmclock):
                // Invariant TSC (EDX bit 8) hidden while kvmclock is offered, as QEMU does without
                // +invtsc: Linux would otherwise prefer the TSC (see the Soft CPU's KVMParavirtualLeaves).
                entry.edx &= ~(1 << 8)
            case kvmFeaturesLeaf:
                entry.eax = kvmFeatures(reported: entry.eax, offered: machine.paravirtual, userspaceAPIC: userspaceAPIC)
            default:
                break
            }
            var result = CPUIDResult(eax: entry.eax, ebx: entry.ebx, ecx: entry.ecx, edx: entry.edx)
            machine.cpuid.apply(leaf: entry.function, subleaf: entry.index, vcpu: vcpu, to: &result)
            entry.eax = result.eax
            entry.ebx = result.ebx
            entry.ecx = result.ecx
            entry.edx = result.edx
            return entry
        }
    }

    static func install(_ entries: [kvm_cpuid_entry2], vcpuFD: Int32) throws(KVMError) {
        let byteCount = headerSize + entries.count * entryStride
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 8)
        defer { buffer.deallocate() }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: byteCount)
        buffer.assumingMemoryBound(to: kvm_cpuid2.self).pointee.nent = UInt32(entries.count)
        let destination = (buffer + headerSize).assumingMemoryBound(to: kvm_cpuid_entry2.self)
        for (slot, entry) in entries.enumerated() { destination[slot] = entry }
        guard ckvm_ioctl(vcpuFD, CKVM_SET_CPUID2, buffer) >= 0 else {
            throw .ioctlFailed(name: "KVM_SET_CPUID2", errno: errno)
        }
    }
}
