/// Moves 1 to 8 little-endian bytes between a UInt64 and kvm_run's data windows (KVM_EXIT_IO's
/// data_offset area, KVM_EXIT_MMIO's data[8]); x86 is little-endian, as is the guest.
enum KVMDataWindow {
    @inline(__always)
    static func load(_ pointer: UnsafeRawPointer, bytes: Int) -> UInt64 {
        switch bytes {
        case 1: return UInt64(pointer.load(as: UInt8.self))
        case 2: return UInt64(pointer.loadUnaligned(as: UInt16.self))
        case 4: return UInt64(pointer.loadUnaligned(as: UInt32.self))
        case 8: return pointer.loadUnaligned(as: UInt64.self)
        default:
            var value: UInt64 = 0
            for byte in 0..<min(bytes, 8) {
                value |= UInt64(pointer.load(fromByteOffset: byte, as: UInt8.self)) << UInt64(8 * byte)
            }
            return value
        }
    }

    @inline(__always)
    static func store(_ value: UInt64, bytes: Int, to pointer: UnsafeMutableRawPointer) {
        switch bytes {
        case 1: pointer.storeBytes(of: UInt8(truncatingIfNeeded: value), as: UInt8.self)
        case 2: pointer.storeBytes(of: UInt16(truncatingIfNeeded: value), as: UInt16.self)
        case 4: pointer.storeBytes(of: UInt32(truncatingIfNeeded: value), as: UInt32.self)
        case 8: pointer.storeBytes(of: value, as: UInt64.self)
        default:
            for byte in 0..<min(bytes, 8) {
                pointer.storeBytes(of: UInt8(truncatingIfNeeded: value >> UInt64(8 * byte)), toByteOffset: byte,
                                   as: UInt8.self)
            }
        }
    }
}
