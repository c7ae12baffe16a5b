#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// Everything the KVM backend reports, one line each.
public enum KVMError: VMMError, Equatable {
    /// /dev/kvm is missing or not accessible to this user.
    case deviceUnavailable(path: String, errno: Int32)
    /// KVM_GET_API_VERSION answered something other than 12 (api.rst 4.1).
    case unsupportedAPIVersion(Int32)
    /// KVM_CHECK_EXTENSION said no to a capability vmm relies on.
    case missingCapability(name: String, neededFor: String)
    /// An ioctl failed; `name` is the ioctl's name in api.rst.
    case ioctlFailed(name: String, errno: Int32)
    case mappingFailed(what: String, errno: Int32)
    case vcpuAlreadyCreated(index: Int)
    case vcpuIndexOutOfRange(index: Int, count: Int)
    case irqchipAlreadyCreated
    /// The machine claims MSRs in more ranges or bigger ranges than one KVM MSR filter holds.
    case msrFilterTooLarge(ranges: Int)
    case kickSignalUnavailable(errno: Int32)
    /// VM entry failed (KVM_EXIT_FAIL_ENTRY); the reason is the VMX/SVM exit reason the hardware gave.
    case entryFailed(hardwareReason: UInt64)
    /// KVM's instruction emulator gave up on the instruction at `rip`.
    case emulationFailed(rip: UInt64, bytes: String)
    case internalError(suberror: String, data: [UInt64])
    /// An exit vmm does not handle, reported rather than ignored.
    case unexpectedExit(name: String, detail: String)
    /// KVM's port I/O data window lies outside the kvm_run mapping.
    case malformedIOExit(port: UInt16, offset: UInt64, bytes: Int)
    case debuggerUnsupported(String)

    public var description: String {
        switch self {
        case let .deviceUnavailable(path, errno):
            return "cannot open \(path): \(String(cString: strerror(errno))); KVM is not usable here (try --backend soft)"
        case let .unsupportedAPIVersion(version):
            return "/dev/kvm reports API version \(version); vmm needs the stable API version 12"
        case let .missingCapability(name, neededFor):
            return "host KVM lacks \(name), needed for \(neededFor) (try --backend soft)"
        case let .ioctlFailed(name, errno):
            return "\(name) failed: \(String(cString: strerror(errno)))"
        case let .mappingFailed(what, errno):
            return "could not map \(what): \(String(cString: strerror(errno)))"
        case let .vcpuAlreadyCreated(index):
            return "vCPU \(index) was already created in this VM"
        case let .vcpuIndexOutOfRange(index, count):
            return "vCPU index \(index) is outside this machine's \(count) vCPUs"
        case .irqchipAlreadyCreated:
            return "the in-kernel irqchip of this VM was already created (KVM_CREATE_IRQCHIP is once per VM)"
        case let .msrFilterTooLarge(ranges):
            return "devices claim MSRs in \(ranges) ranges; a KVM MSR filter holds at most \(KVMMSRFilter.maximumRanges) ranges of up to \(KVMMSRFilter.maximumMSRsPerRange) MSRs"
        case let .kickSignalUnavailable(errno):
            return "could not install the vCPU kick signal handler: \(String(cString: strerror(errno)))"
        case let .entryFailed(reason):
            return "VM entry failed: hardware_entry_failure_reason 0x\(String(reason, radix: 16))"
        case let .emulationFailed(rip, bytes):
            return "host KVM limitation: its instruction emulator cannot execute the instruction at RIP 0x\(String(rip, radix: 16)) (bytes: \(bytes))"
        case let .internalError(suberror, data):
            let words = data.map { "0x" + String($0, radix: 16) }.joined(separator: " ")
            return "KVM internal error: \(suberror)" + (words.isEmpty ? "" : " (data: \(words))")
        case let .unexpectedExit(name, detail):
            return "unhandled KVM exit \(name)" + (detail.isEmpty ? "" : ": \(detail)")
        case let .debuggerUnsupported(what):
            return "KVM's debug registers cannot hold \(what)"
        case let .malformedIOExit(port, offset, bytes):
            return "KVM_EXIT_IO for port 0x\(String(port, radix: 16)) puts \(bytes) bytes at offset \(offset), outside kvm_run"
        }
    }
}
