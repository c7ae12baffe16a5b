import CKVM
import VMMKit

/// Doorbells signalled inside the kernel (api.rst: KVM_IOEVENTFD): a guest write that matches a
/// doorbell's address, length and (with KVM_IOEVENTFD_FLAG_DATAMATCH) value signals its eventfd
/// in KVM's own port or MMIO handling, and the vCPU goes straight back into the guest; any other
/// write there exits to userspace as before. Connected to the machine's two `DoorbellTable`s when
/// the VM is created, so each boot's VM gets every doorbell at its current address, and told of each
/// move (a deassign at the old address, with the same length, descriptor and match, then an assign).
final class KVMIOEventFD: DoorbellRegistrar {
    private let vm: KVMDescriptor

    init(vm: KVMDescriptor) { self.vm = vm }

    func assign(_ doorbell: Doorbell, at address: UInt64) -> Bool {
        (try? register(address: address, length: doorbell.width, descriptor: doorbell.event.fileDescriptor,
                       match: doorbell.match, port: doorbell.space == .port, deassign: false)) != nil
    }

    func deassign(_ doorbell: Doorbell, at address: UInt64) {
        try? register(address: address, length: doorbell.width, descriptor: doorbell.event.fileDescriptor,
                      match: doorbell.match, port: doorbell.space == .port, deassign: true)
    }

    /// One KVM_IOEVENTFD; also the PV I/O delay's reader-less doorbell on port 0x80.
    func register(address: UInt64, length: Int, descriptor: Int32, match: UInt64?, port: Bool,
                  deassign: Bool) throws(KVMError) {
        var request = kvm_ioeventfd()
        request.addr = address
        request.len = UInt32(length)
        request.fd = descriptor
        if let match {
            request.datamatch = match
            request.flags |= CKVM_IOEVENTFD_FLAG_DATAMATCH
        }
        if port { request.flags |= CKVM_IOEVENTFD_FLAG_PIO }
        if deassign { request.flags |= CKVM_IOEVENTFD_FLAG_DEASSIGN }
        try KVMIoctl.call(vm.fd, CKVM_IOEVENTFD, &request, "KVM_IOEVENTFD")
    }
}
