#if canImport(Glibc)
import Glibc
#endif
import CKVM
import VMMKit

/// KVM_XEN_HVM_CONFIG (api.rst; KVM commit ffde22ac53): KVM itself answers a write of the hypercall
/// page MSR by copying a page of one of two blobs in vmm's memory into the guest, choosing by the
/// vCPU's mode and raising #GP for an index beyond the blob or a page it cannot write
/// (kvm_xen_write_hypercall_page), which is what the device does. Used where the host's
/// KVM_CAP_XEN_HVM has KVM_XEN_HVM_CONFIG_HYPERCALL_MSR; the MSR then stays out of the MSR filter.
/// Elsewhere (this project's PVM hosts) the filter sends it to the device instead.
final class KVMXenHypercallPage {
    let msr: UInt32
    /// The blobs, which KVM reads at each MSR write: alive as long as the VM.
    private let storage: UnsafeMutableRawPointer

    private init(msr: UInt32, storage: UnsafeMutableRawPointer) {
        self.msr = msr
        self.storage = storage
    }

    deinit { storage.deallocate() }

    /// Configures `loader`'s MSR in the kernel, or returns nil where KVM cannot load the pages.
    static func configure(_ loader: any HypercallPageLoader, vmFD: Int32, system: KVMSystem) throws(KVMError) -> KVMXenHypercallPage? {
        guard system.check(.xenHVM) & Int32(KVM_XEN_HVM_CONFIG_HYPERCALL_MSR) != 0 else { return nil }
        // KVM keeps VMCALL here, so the blobs are the port stubs (HypercallHooks).
        let blobs = loader.blobs(instructionReachesHandler: false)
        let pageSize = 4096
        let storage = UnsafeMutableRawPointer.allocate(byteCount: blobs.bits32.count + blobs.bits64.count, alignment: pageSize)
        storage.copyMemory(from: blobs.bits32, byteCount: blobs.bits32.count)
        (storage + blobs.bits32.count).copyMemory(from: blobs.bits64, byteCount: blobs.bits64.count)
        let page = KVMXenHypercallPage(msr: loader.pageMSR, storage: storage)
        var config = kvm_xen_hvm_config()
        config.flags = 0
        config.msr = loader.pageMSR
        config.blob_addr_32 = UInt64(UInt(bitPattern: storage))
        config.blob_addr_64 = UInt64(UInt(bitPattern: storage + blobs.bits32.count))
        config.blob_size_32 = UInt8(truncatingIfNeeded: blobs.bits32.count / pageSize)
        config.blob_size_64 = UInt8(truncatingIfNeeded: blobs.bits64.count / pageSize)
        try KVMIoctl.call(vmFD, CKVM_XEN_HVM_CONFIG, &config, "KVM_XEN_HVM_CONFIG")
        return page
    }
}
