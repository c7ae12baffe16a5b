#if canImport(Glibc)
import Glibc
#endif
import CKVM
import VMMKit

/// One KVM vCPU: its file descriptor, its kvm_run page, and the machine parts its exits reach.
/// The run loop is in KVMRunLoop.swift; register access (api.rst: KVM_GET/SET_REGS, SREGS, MSRS, DEBUGREGS) here.
public final class KVMVirtualCPU: VirtualCPU {
    public let index: Int
    public let statistics = ExitStatistics()
    let counters: KVMExitCounters

    let vm: KVMVirtualMachine
    let fd: Int32
    /// The shared kvm_run page (api.rst: "The kvm_run structure"): exit reason and per-exit data, written by KVM on each exit.
    let kvmRun: UnsafeMutablePointer<kvm_run>
    let runSize: Int
    let kicker: KVMVCPUKicker
    // The machine's parts the exit path touches, held directly so no exit goes through `Machine`.
    let ports: IOBus
    let mmio: IOBus
    let msrs: MSRHooks
    let runControl: RunControl
    let debugControl: DebugControl
    let arbitration: VCPUArbitration
    let memory: GuestMemory
    /// An NMI taken from the interrupt controller while halted, injected at the next entry.
    var nmiPending = false
    /// The TPR last written to kvm_run->cr8, to notice the guest changing CR8.
    var lastTaskPriority: UInt8 = 0

    init(vm: KVMVirtualMachine, index: Int) throws(KVMError) {
        self.vm = vm
        self.index = index
        counters = KVMExitCounters(statistics)
        let machine = vm.machine
        ports = machine.ports
        mmio = machine.mmio
        msrs = machine.msrs
        runControl = machine.runControl
        debugControl = machine.debugControl
        arbitration = machine.vcpuArbitration
        memory = machine.memory
        fd = try KVMIoctl.value(vm.fd, CKVM_CREATE_VCPU, UInt(index), "KVM_CREATE_VCPU")
        runSize = vm.vcpuMappingSize
        let mapping = mmap(nil, runSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
        guard let mapping, mapping != MAP_FAILED else {
            let error = errno
            close(fd)
            throw .mappingFailed(what: "kvm_run of vCPU \(index)", errno: error)
        }
        kvmRun = mapping.bindMemory(to: kvm_run.self, capacity: 1)
        do {
            kicker = try KVMVCPUKicker(run: kvmRun)
        } catch {
            munmap(mapping, runSize)
            close(fd)
            throw error
        }
    }

    /// The vCPU's CPUID table (see KVMCPUID); KVM wants it before the first KVM_RUN.
    func installCPUID() throws(KVMError) {
        try KVMCPUID.install(KVMCPUID.entries(from: vm.supportedCPUID, vcpu: index, machine: vm.machine), vcpuFD: fd)
        try enforceParavirtualCPUID()
    }

    /// KVM answers its paravirtual MSRs and hypercalls whatever CPUID says unless told to hold the
    /// guest to the feature bits (api.rst, KVM_CAP_ENFORCE_PV_FEATURE_CPUID): with it, what `--pv`
    /// turned off raises #GP or returns -KVM_ENOSYS as on Soft. A KVM without the capability
    /// hides the interfaces from CPUID only.
    private func enforceParavirtualCPUID() throws(KVMError) {
        guard vm.system.check(.enforcePVFeatureCPUID) > 0 else { return }
        var enable = kvm_enable_cap()
        enable.cap = UInt32(KVM_CAP_ENFORCE_PV_FEATURE_CPUID)
        enable.args.0 = 1
        try KVMIoctl.call(fd, CKVM_ENABLE_CAP, &enable, "KVM_ENABLE_CAP(KVM_CAP_ENFORCE_PV_FEATURE_CPUID)")
    }

    deinit {
        munmap(kvmRun, runSize)
        close(fd)
    }

    public func generalRegisters() throws -> GeneralRegisters {
        var registers = kvm_regs()
        try KVMIoctl.call(fd, CKVM_GET_REGS, &registers, "KVM_GET_REGS")
        return GeneralRegisters(registers)
    }

    public func setGeneralRegisters(_ registers: GeneralRegisters) throws {
        var kvm = registers.kvm
        try KVMIoctl.call(fd, CKVM_SET_REGS, &kvm, "KVM_SET_REGS")
    }

    public func systemRegisters() throws -> SystemRegisters {
        SystemRegisters(try kvmSystemRegisters())
    }

    func kvmSystemRegisters() throws(KVMError) -> kvm_sregs {
        var registers = kvm_sregs()
        try KVMIoctl.call(fd, CKVM_GET_SREGS, &registers, "KVM_GET_SREGS")
        return registers
    }

    public func setSystemRegisters(_ registers: SystemRegisters) throws {
        var kvm = try kvmSystemRegisters()
        registers.store(into: &kvm)
        try KVMIoctl.call(fd, CKVM_SET_SREGS, &kvm, "KVM_SET_SREGS")
    }

    /// KVM_GET_FPU (api.rst): the FXSAVE image's fields; it has no FCS/FDS, which stay 0.
    public func floatingPointRegisters() throws -> FloatingPointRegisters {
        var fpu = kvm_fpu()
        try KVMIoctl.call(fd, CKVM_GET_FPU, &fpu, "KVM_GET_FPU")
        var registers = FloatingPointRegisters()
        withUnsafeBytes(of: fpu.fpr) { bytes in
            for index in 0..<8 { registers.st[index] = Array(bytes[(index * 16)..<(index * 16 + 10)]) }
        }
        withUnsafeBytes(of: fpu.xmm) { bytes in
            for index in 0..<16 { registers.xmm[index] = Array(bytes[(index * 16)..<(index * 16 + 16)]) }
        }
        registers.controlWord = fpu.fcw
        registers.statusWord = fpu.fsw
        registers.abridgedTag = fpu.ftwx
        registers.lastOpcode = fpu.last_opcode
        registers.lastInstructionPointer = fpu.last_ip
        registers.lastDataPointer = fpu.last_dp
        registers.mxcsr = fpu.mxcsr
        return registers
    }

    public func debugRegisters() throws -> DebugRegisters {
        var registers = kvm_debugregs()
        try KVMIoctl.call(fd, CKVM_GET_DEBUGREGS, &registers, "KVM_GET_DEBUGREGS")
        return DebugRegisters(registers)
    }

    public func setDebugRegisters(_ registers: DebugRegisters) throws {
        var kvm = registers.kvm
        try KVMIoctl.call(fd, CKVM_SET_DEBUGREGS, &kvm, "KVM_SET_DEBUGREGS")
    }

    /// KVM_GET_MSRS for one index; KVM processing zero entries means it does not know the MSR.
    public func readMSR(_ index: UInt32) throws -> UInt64 {
        var value: UInt64 = 0
        let processed = ckvm_get_msr(fd, index, &value)
        guard processed == 1 else { throw KVMError.ioctlFailed(name: "KVM_GET_MSRS(0x\(String(index, radix: 16)))", errno: processed < 0 ? errno : EINVAL) }
        return value
    }

    public func writeMSR(_ index: UInt32, value: UInt64) throws {
        let processed = ckvm_set_msr(fd, index, value)
        guard processed == 1 else { throw KVMError.ioctlFailed(name: "KVM_SET_MSRS(0x\(String(index, radix: 16)))", errno: processed < 0 ? errno : EINVAL) }
    }

    /// Queues the exception through KVM_SET_VCPU_EVENTS (api.rst): without
    /// KVM_CAP_EXCEPTION_PAYLOAD, `exception.injected` means "deliver at the next entry".
    public func injectException(vector: UInt8, errorCode: UInt32?) throws {
        var events = kvm_vcpu_events()
        try KVMIoctl.call(fd, CKVM_GET_VCPU_EVENTS, &events, "KVM_GET_VCPU_EVENTS")
        events.exception.injected = 1
        events.exception.nr = vector
        events.exception.has_error_code = errorCode == nil ? 0 : 1
        events.exception.error_code = errorCode ?? 0
        // No VALID_* flags: leave NMI-pending, SIPI and interrupt-shadow state as it is.
        events.flags = 0
        try KVMIoctl.call(fd, CKVM_SET_VCPU_EVENTS, &events, "KVM_SET_VCPU_EVENTS")
    }

    public func kick() { kicker.kick() }

    /// The local APIC's 1 KiB register page (KVM_GET_LAPIC in api.rst): in-kernel irqchip only.
    /// Returns the 32-bit register at `offset` (SDM vol. 3, table 10-1; ID at 0x20, version at 0x30).
    public func localAPICRegister(at offset: Int) throws -> UInt32 {
        guard offset >= 0, offset <= 1024 - 4, offset % 4 == 0 else {
            throw KVMError.ioctlFailed(name: "KVM_GET_LAPIC (register offset \(offset))", errno: EINVAL)
        }
        var state = kvm_lapic_state()
        try KVMIoctl.call(fd, CKVM_GET_LAPIC, &state, "KVM_GET_LAPIC")
        return withUnsafeBytes(of: &state.regs) { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    }
}
