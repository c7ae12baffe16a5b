/// A claimed MSR whose write copies one page of a blob into guest memory (Xen's hypercall-page
/// MSR; api.rst, KVM_XEN_HVM_CONFIG): a backend that can do that in the kernel takes the blobs and
/// keeps the MSR from the device; otherwise the MSR reaches the device as any claimed one does.
/// The Soft CPU, which lets the device write the page, drops what it had decoded from it.
public protocol HypercallPageLoader: AnyObject, Sendable {
    var pageMSR: UInt32 { get }
    /// The blobs a 32-bit and a 64-bit vCPU load from, each whole 4 KiB pages, on a backend whose
    /// VMCALL does or does not reach the machine's `HypercallHooks`.
    func blobs(instructionReachesHandler: Bool) -> (bits32: [UInt8], bits64: [UInt8])
}
