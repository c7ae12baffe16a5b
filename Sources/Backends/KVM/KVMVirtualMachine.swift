#if canImport(Glibc)
import Glibc
#endif
import CKVM
import Synchronization
import VMMKit

/// One KVM VM: its file descriptor, memory slots, MSR filter and (optionally) in-kernel irqchip.
public final class KVMVirtualMachine: VirtualMachine {
    /// VT-x without unrestricted guest runs real mode through a TSS and an identity-mapped page table
    /// that KVM keeps in guest-physical memory (api.rst: KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR). They go at the top of the MMIO
    /// hole, below the BIOS flash window, where neither RAM nor the LAPIC/IOAPIC pages lie.
    static let identityMapAddress: UInt64 = 0xfffb_c000
    static let tssAddress: UInt = 0xfffb_d000

    let system: KVMSystem
    let descriptor: KVMDescriptor
    var fd: Int32 { descriptor.fd }
    unowned let machine: Machine
    let vcpuMappingSize: Int
    /// KVM_GET_SUPPORTED_CPUID, fetched once; each vCPU gets its own adjusted copy.
    let supportedCPUID: [kvm_cpuid_entry2]
    public private(set) var inKernelIRQChip: KVMInKernelIRQChip?
    /// The hypercall page KVM loads itself (KVM_XEN_HVM_CONFIG), where it can.
    private var xenHypercallPage: KVMXenHypercallPage?
    private let reservedIndices = Mutex<Set<Int>>([])
    /// The debugger's breakpoints as last armed (KVMGuestDebug.swift); written only while every
    /// vCPU is parked.
    var debugArming = KVMDebugArming()
    /// The eventfd that port 0x80 writes signal with PV I/O delay on: nothing reads it (below).
    private var ioDelayEvent: EventNotifier?

    init(machine: Machine, system: KVMSystem) throws(KVMError) {
        try system.requireBaseline()
        self.system = system
        self.machine = machine
        vcpuMappingSize = try system.vcpuMappingSize()
        supportedCPUID = try KVMCPUID.supportedEntries(system: system)
        descriptor = KVMDescriptor(try system.createVMDescriptor())

        var identityMap = Self.identityMapAddress
        try KVMIoctl.call(fd, CKVM_SET_IDENTITY_MAP_ADDR, &identityMap, "KVM_SET_IDENTITY_MAP_ADDR")
        try KVMIoctl.value(fd, CKVM_SET_TSS_ADDR, Self.tssAddress, "KVM_SET_TSS_ADDR")
        try mapMemory(machine.memory)
        // KVM keeps VMCALL/VMMCALL for its own hypercall ABI (and this host's PVM KVM may never
        // return from one): a device claiming the instruction reaches vmm some other way here.
        machine.hypercalls.instructionReachesHandler = false
        if let loader = machine.msrs.hypercallPageLoader {
            xenHypercallPage = try KVMXenHypercallPage.configure(loader, vmFD: fd, system: system)
        }
        let inKernelMSR = xenHypercallPage?.msr
        let claimedMSRs = machine.msrs.claimedRanges.filter { range in inKernelMSR.map { range != $0...$0 } ?? true }
        if !claimedMSRs.isEmpty { try KVMMSRFilter.install(denying: claimedMSRs, vmFD: fd, system: system) }
        if machine.interruptControllerPlacement == .inKernel { try createInKernelIRQChip() }
        try installDoorbells()
    }

    /// The machine's doorbells as ioeventfds, so a doorbell write never leaves the kernel; with PV
    /// I/O delay, port 0x80 as one nobody reads: a delay write costs an exit to KVM only, as the
    /// Soft CPU drops it (KVM_FEATURE_NOP_IO_DELAY says the guest need not write it at all).
    private func installDoorbells() throws(KVMError) {
        let registrar = KVMIOEventFD(vm: descriptor)
        machine.ports.doorbells.connect(registrar)
        machine.mmio.doorbells.connect(registrar)
        guard machine.paravirtual.contains(.pvIODelay) else { return }
        let event: EventNotifier
        do {
            event = try EventNotifier()
        } catch {
            throw .ioctlFailed(name: "eventfd", errno: error.errno)
        }
        // Length 0: any width, as the Soft CPU drops any (KVM_CAP_IOEVENTFD_ANY_LENGTH).
        try registrar.register(address: UInt64(Self.ioDelayPort), length: 0, descriptor: event.fileDescriptor,
                               match: nil, port: true, deassign: false)
        ioDelayEvent = event
    }

    /// The port Linux's io_delay writes (arch/x86/kernel/io_delay.c).
    static let ioDelayPort: UInt16 = 0x80

    /// One memory slot per guest memory region; ROM read-only, so guest writes exit as MMIO (api.rst: KVM_SET_USER_MEMORY_REGION, KVM_MEM_READONLY).
    private func mapMemory(_ memory: GuestMemory) throws(KVMError) {
        for (slot, region) in memory.regions.enumerated() {
            var flags: UInt32 = 0
            if region.kind == .rom {
                try system.require(.readOnlyMemory, for: "read-only memory region '\(region.name)'")
                flags = UInt32(KVM_MEM_READONLY)
            }
            var slotDescription = kvm_userspace_memory_region(
                slot: UInt32(slot), flags: flags, guest_phys_addr: region.guestBase, memory_size: region.size,
                userspace_addr: UInt64(UInt(bitPattern: region.host)))
            try KVMIoctl.call(fd, CKVM_SET_USER_MEMORY_REGION, &slotDescription, "KVM_SET_USER_MEMORY_REGION")
        }
    }

    /// KVM_CREATE_IRQCHIP (PIC, IOAPIC, per-vCPU LAPICs), the PC's GSI routing, then
    /// KVM_CREATE_PIT2 (api.rst).
    /// Must precede the first vCPU; a second call fails with `irqchipAlreadyCreated`.
    public func createInKernelIRQChip() throws(KVMError) {
        guard inKernelIRQChip == nil else { throw .irqchipAlreadyCreated }
        try system.require(.irqchip, for: "the in-kernel interrupt controllers")
        try system.require(.pit2, for: "the in-kernel PIT")
        try system.require(.irqRouting, for: "routing the in-kernel PIT to IOAPIC pin 2")
        do {
            try KVMIoctl.value(fd, CKVM_CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP")
        } catch .ioctlFailed(_, EEXIST) {
            throw .irqchipAlreadyCreated
        }
        guard ckvm_set_gsi_routing(fd, nil, 0) == 0 else { throw .ioctlFailed(name: "KVM_SET_GSI_ROUTING", errno: errno) }
        var pit = kvm_pit_config()
        try KVMIoctl.call(fd, CKVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2")
        inKernelIRQChip = KVMInKernelIRQChip(vm: descriptor)
    }

    public var inKernelInterruptSink: (any InterruptSink)? { inKernelIRQChip }

    public func createVCPU(index: Int) throws -> any VirtualCPU {
        try createKVMVCPU(index: index)
    }

    /// `createVCPU` with the concrete type, for callers that need KVM-specific state (the LAPIC page).
    public func createKVMVCPU(index: Int) throws(KVMError) -> KVMVirtualCPU {
        guard (0..<machine.vcpuCount).contains(index) else {
            throw .vcpuIndexOutOfRange(index: index, count: machine.vcpuCount)
        }
        // Checked here rather than left to KVM: it has accepted duplicate vCPU ids in the past.
        let fresh = reservedIndices.withLock { $0.insert(index).inserted }
        guard fresh else { throw .vcpuAlreadyCreated(index: index) }
        do {
            let vcpu = try KVMVirtualCPU(vm: self, index: index)
            try vcpu.installCPUID()
            return vcpu
        } catch {
            reservedIndices.withLock { _ = $0.remove(index) }
            throw error
        }
    }
}
