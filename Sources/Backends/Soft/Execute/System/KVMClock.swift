#if canImport(Glibc)
import Glibc
#endif
import VMMKit

/// KVM's paravirtual clock on the Soft CPU (Documentation/virt/kvm/x86/msr.rst, MSR_KVM_WALL_CLOCK_NEW
/// and MSR_KVM_SYSTEM_TIME_NEW; the structures are pvclock-abi.h's), advertised in the KVM CPUID leaves
/// (`KVMParavirtualLeaves`).
///
/// The Soft CPU's TSC counts nanoseconds of the host's monotonic clock (plus the vCPU's TSC offset),
/// so the conversion is exact and fixed: tsc_to_system_mul 2^31 with tsc_shift 1 multiplies by one.
/// system_time is the host's monotonic clock itself, the same on every vCPU, so time computed from
/// any vCPU's structure agrees with every other's: PVCLOCK_TSC_STABLE_BIT holds and is set. The
/// structure never needs refreshing, so it is written once, when the guest enables it, with the
/// version protocol (odd while writing, even after).
enum KVMClock {
    /// pvclock_vcpu_time_info: 32 bytes.
    static let timeInfoSize = 32
    /// pvclock_wall_clock: 12 bytes.
    static let wallClockSize = 12
    static let tscStableFlag: UInt8 = 1
    static let multiplier: UInt32 = 1 << 31
    static let shift: Int8 = 1

    /// Fills vCPU time information at `address` (bit 0 of the MSR value, the enable bit, already
    /// cleared) for a vCPU whose TSC is `tsc` at host time `now`. An address outside RAM (in ROM too) is ignored,
    /// as KVM does; the guest then simply reads no clock.
    static func writeTimeInfo(at address: UInt64, tsc: UInt64, now: UInt64, into memory: GuestMemory) {
        guard let base = memory.ramPointer(at: address, length: timeInfoSize) else { return }
        let version = base.load(as: UInt32.self)
        let odd = version | 1
        base.storeBytes(of: odd, as: UInt32.self)
        base.storeBytes(of: tsc, toByteOffset: 8, as: UInt64.self)
        base.storeBytes(of: now, toByteOffset: 16, as: UInt64.self)
        base.storeBytes(of: multiplier, toByteOffset: 24, as: UInt32.self)
        base.storeBytes(of: shift, toByteOffset: 28, as: Int8.self)
        base.storeBytes(of: tscStableFlag, toByteOffset: 29, as: UInt8.self)
        base.storeBytes(of: odd &+ 1, as: UInt32.self)
    }

    /// The wall-clock time at system_time 0 (the host's monotonic zero) at `address`.
    static func writeWallClock(at address: UInt64, into memory: GuestMemory) {
        guard let base = memory.ramPointer(at: address, length: wallClockSize) else { return }
        var real = timespec(), monotonic = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        clock_gettime(CLOCK_MONOTONIC, &monotonic)
        let realNanoseconds = Int64(real.tv_sec) * 1_000_000_000 + Int64(real.tv_nsec)
        let monotonicNanoseconds = Int64(monotonic.tv_sec) * 1_000_000_000 + Int64(monotonic.tv_nsec)
        let zero = max(realNanoseconds - monotonicNanoseconds, 0)
        let version = base.load(as: UInt32.self) | 1
        base.storeBytes(of: version, as: UInt32.self)
        base.storeBytes(of: UInt32(truncatingIfNeeded: zero / 1_000_000_000), toByteOffset: 4, as: UInt32.self)
        base.storeBytes(of: UInt32(zero % 1_000_000_000), toByteOffset: 8, as: UInt32.self)
        base.storeBytes(of: version &+ 1, as: UInt32.self)
    }
}
