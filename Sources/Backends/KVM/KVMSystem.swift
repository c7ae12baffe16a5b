#if canImport(Glibc)
import Glibc
#endif
import CKVM
import VMMKit

/// An open /dev/kvm: the system ioctls (api.rst: KVM_GET_API_VERSION to KVM_GET_VCPU_MMAP_SIZE) and the capability checks.
final class KVMSystem {
    static let path = "/dev/kvm"
    let fd: Int32

    /// Opens /dev/kvm and insists on the stable API (api.rst, KVM_GET_API_VERSION: refuse anything but 12).
    init() throws(KVMError) {
        fd = open(Self.path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw .deviceUnavailable(path: Self.path, errno: errno) }
        let version = ckvm_ioctl_value(fd, CKVM_GET_API_VERSION, 0)
        guard version == KVM_API_VERSION else {
            close(fd)
            throw .unsupportedAPIVersion(version)
        }
    }

    deinit { close(fd) }

    /// KVM_CHECK_EXTENSION: 0 when absent, otherwise a positive (sometimes meaningful) value.
    func check(_ capability: KVMCapability) -> Int32 {
        max(0, ckvm_ioctl_value(fd, CKVM_CHECK_EXTENSION, UInt(capability.number)))
    }

    func require(_ capability: KVMCapability, for purpose: String) throws(KVMError) {
        guard check(capability) > 0 else { throw .missingCapability(name: capability.name, neededFor: purpose) }
    }

    func requireBaseline() throws(KVMError) {
        for (capability, purpose) in KVMCapability.alwaysRequired { try require(capability, for: purpose) }
    }

    /// The size of each vCPU's kvm_run mapping (api.rst, KVM_GET_VCPU_MMAP_SIZE).
    func vcpuMappingSize() throws(KVMError) -> Int {
        let size = ckvm_ioctl_value(fd, CKVM_GET_VCPU_MMAP_SIZE, 0)
        guard size >= MemoryLayout<kvm_run>.size else {
            throw .ioctlFailed(name: "KVM_GET_VCPU_MMAP_SIZE", errno: size < 0 ? errno : EINVAL)
        }
        return Int(size)
    }

    func createVMDescriptor() throws(KVMError) -> Int32 {
        let vm = ckvm_ioctl_value(fd, CKVM_CREATE_VM, 0)
        guard vm >= 0 else { throw .ioctlFailed(name: "KVM_CREATE_VM", errno: errno) }
        return vm
    }
}
