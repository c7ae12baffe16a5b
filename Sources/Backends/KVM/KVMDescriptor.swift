#if canImport(Glibc)
import Glibc
#endif

/// A VM's file descriptor, closed when its last holder lets go. The VM and its in-kernel irqchip
/// sink share it: a device thread that took the sink just before a reboot dropped the VM still
/// raises its line into that VM, never into a closed descriptor or one the host reused.
final class KVMDescriptor: @unchecked Sendable {
    let fd: Int32

    init(_ fd: Int32) { self.fd = fd }

    deinit { close(fd) }
}
