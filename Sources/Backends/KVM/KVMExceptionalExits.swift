import CKVM
import VMMKit

/// The exits that end or break the run: shutdown, failed entry, KVM internal errors, system events,
/// and anything vmm does not expect, which is reported by name and never ignored.
extension KVMVirtualCPU {
    func handleExceptionalExit() throws -> VCPUStop? {
        let run = kvmRun
        let reason = run.pointee.exit_reason
        switch Int32(bitPattern: reason) {
        case KVM_EXIT_SHUTDOWN:
            return .shutdown(registerDump: registerDump())
        case KVM_EXIT_FAIL_ENTRY:
            throw KVMError.entryFailed(hardwareReason: ckvm_fail_entry_reason(run))
        case KVM_EXIT_INTERNAL_ERROR:
            throw internalError()
        case KVM_EXIT_SYSTEM_EVENT:
            return systemEvent(type: ckvm_system_event_type(run))
        case KVM_EXIT_DEBUG:
            try handleDebugExit()
            return runControl.isStopRequested ? .machineStopped : nil
        case KVM_EXIT_UNKNOWN:
            throw KVMError.unexpectedExit(
                name: "KVM_EXIT_UNKNOWN",
                detail: "hardware exit reason 0x\(String(ckvm_hardware_exit_reason(run), radix: 16))")
        default:
            throw KVMError.unexpectedExit(name: KVMExitReason.name(reason), detail: "")
        }
    }

    /// KVM_EXIT_SYSTEM_EVENT (api.rst): power requests KVM forwards to userspace.
    private func systemEvent(type: UInt32) -> VCPUStop? {
        switch Int32(bitPattern: type) {
        case KVM_SYSTEM_EVENT_SHUTDOWN:
            runControl.requestStop(.poweredOff)
            return .machineStopped
        case KVM_SYSTEM_EVENT_RESET:
            return .reset
        case KVM_SYSTEM_EVENT_CRASH:
            return .shutdown(registerDump: "the guest reported a crash (KVM_SYSTEM_EVENT_CRASH)\n" + registerDump())
        default:
            return .shutdown(registerDump: "KVM_SYSTEM_EVENT type \(type)\n" + registerDump())
        }
    }

    /// KVM_EXIT_INTERNAL_ERROR. For an emulation failure, the instruction bytes come from guest memory
    /// at CS.base + RIP (CS.base is ignored in 64-bit mode, SDM vol. 3, 3.4.4), through the page tables.
    private func internalError() -> KVMError {
        let run = kvmRun
        let suberror = ckvm_internal_suberror(run)
        guard suberror == UInt32(KVM_INTERNAL_ERROR_EMULATION),
              let general = try? generalRegisters(), let system = try? systemRegisters()
        else {
            let count = min(ckvm_internal_ndata(run), 16)
            return .internalError(suberror: KVMInternalErrorKind.name(suberror),
                                  data: (0..<count).map { ckvm_internal_data(run, $0) })
        }
        let codeBase = system.cs.long ? 0 : system.cs.base
        let bytes = GuestLinearMemory(memory: memory, registers: system).readBytes(at: codeBase &+ general.rip, count: 15)
        let rendered = bytes.isEmpty ? "unreadable" : bytes.map { byte in
            (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
        }.joined(separator: " ")
        return .emulationFailed(rip: general.rip, bytes: rendered)
    }

    func registerDump() -> String {
        do {
            return KVMRegisterDump.render(try generalRegisters(), try systemRegisters())
        } catch {
            return "registers unavailable: \(error)"
        }
    }
}
