#if canImport(Glibc)
import Glibc
#endif
import CKVM

/// ioctl calls that turn -1 into a `KVMError` naming the ioctl as api.rst does.
enum KVMIoctl {
    @discardableResult
    static func call<T>(_ fd: Int32, _ request: UInt, _ argument: inout T, _ name: String) throws(KVMError) -> Int32 {
        let result = withUnsafeMutablePointer(to: &argument) { ckvm_ioctl(fd, request, $0) }
        guard result >= 0 else { throw .ioctlFailed(name: name, errno: errno) }
        return result
    }

    @discardableResult
    static func value(_ fd: Int32, _ request: UInt, _ argument: UInt, _ name: String) throws(KVMError) -> Int32 {
        let result = ckvm_ioctl_value(fd, request, argument)
        guard result >= 0 else { throw .ioctlFailed(name: name, errno: errno) }
        return result
    }
}
