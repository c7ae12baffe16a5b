#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// Sends guest RDMSR/WRMSR of device-claimed MSRs to userspace: KVM_CAP_X86_USER_SPACE_MSR with the
/// "filter" exit reason, plus a KVM_X86_SET_MSR_FILTER whose ranges deny exactly the claimed indices
/// (api.rst: KVM_X86_SET_MSR_FILTER, KVM_CAP_X86_USER_SPACE_MSR). Denied accesses then exit as KVM_EXIT_X86_RDMSR/WRMSR instead of #GP.
enum KVMMSRFilter {
    static let maximumRanges = Int(KVM_MSR_FILTER_MAX_RANGES)
    static let maximumMSRsPerRange = Int(KVM_MSR_FILTER_MAX_BITMAP_SIZE) * 8

    static func install(denying claimed: [ClosedRange<UInt32>], vmFD: Int32, system: KVMSystem) throws(KVMError) {
        try system.require(.userSpaceMSR, for: "device-claimed MSRs")
        try system.require(.msrFilter, for: "device-claimed MSRs")
        guard claimed.count <= maximumRanges,
              claimed.allSatisfy({ Int($0.upperBound - $0.lowerBound) < maximumMSRsPerRange })
        else { throw .msrFilterTooLarge(ranges: claimed.count) }

        var enable = kvm_enable_cap()
        enable.cap = UInt32(KVM_CAP_X86_USER_SPACE_MSR)
        enable.args.0 = UInt64(KVM_MSR_EXIT_REASON_FILTER)
        try KVMIoctl.call(vmFD, CKVM_ENABLE_CAP, &enable, "KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR)")

        // All-zero bitmaps: a 0 bit denies the access (kvm_msr_filter_range); KVM copies them in the ioctl.
        let bitmapSizes = claimed.map { (Int($0.upperBound - $0.lowerBound) + 8) / 8 }
        var filter = kvm_msr_filter()
        filter.flags = UInt32(KVM_MSR_FILTER_DEFAULT_ALLOW)
        try withZeroedBitmaps(sizes: bitmapSizes) { (pointers) throws(KVMError) in
            withUnsafeMutableBytes(of: &filter.ranges) { raw in
                let ranges = raw.bindMemory(to: kvm_msr_filter_range.self)
                for (slot, range) in claimed.enumerated() {
                    ranges[slot] = kvm_msr_filter_range(
                        flags: UInt32(KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE),
                        nmsrs: range.upperBound - range.lowerBound + 1, base: range.lowerBound,
                        bitmap: pointers[slot])
                }
            }
            try KVMIoctl.call(vmFD, CKVM_X86_SET_MSR_FILTER, &filter, "KVM_X86_SET_MSR_FILTER")
        }
    }

    /// Zeroed bitmaps of the given sizes, alive for the duration of `body`.
    private static func withZeroedBitmaps(
        sizes: [Int], _ body: ([UnsafeMutablePointer<UInt8>]) throws(KVMError) -> Void
    ) throws(KVMError) {
        let total = sizes.reduce(0, +)
        let storage = UnsafeMutablePointer<UInt8>.allocate(capacity: max(total, 1))
        defer { storage.deallocate() }
        storage.initialize(repeating: 0, count: max(total, 1))
        var pointers: [UnsafeMutablePointer<UInt8>] = []
        var offset = 0
        for size in sizes {
            pointers.append(storage + offset)
            offset += size
        }
        try body(pointers)
    }
}
