/// MSR indices the Soft CPU implements itself (SDM vol. 4, table 2-2; AMD APM vol. 2, appendix A).
/// Those marked Intel or AMD exist only on that vendor's CPUs and raise #GP on the other's, as they do
/// on hardware; the vendor is the one CPUID reports (`CPUIDModel.softCPU`).
enum MSRIndex {
    static let tsc: UInt32 = 0x10, apicBase: UInt32 = 0x1b, mtrrCap: UInt32 = 0xfe
    /// Intel: IA32_PLATFORM_ID (reads 0: no platform bits to match microcode against).
    static let platformID: UInt32 = 0x17
    /// Intel IA32_BIOS_SIGN_ID, AMD PATCH_LEVEL: the microcode revision, 0 (none loaded). Linux reads
    /// it unguarded on both vendors while identifying the CPU.
    static let microcodeRevision: UInt32 = 0x8b
    static let sysenterCS: UInt32 = 0x174, sysenterESP: UInt32 = 0x175, sysenterEIP: UInt32 = 0x176
    static let mcgCap: UInt32 = 0x179, mcgStatus: UInt32 = 0x17a
    /// Intel only: IA32_MISC_ENABLE.
    static let miscEnable: UInt32 = 0x1a0
    static let pat: UInt32 = 0x277, mtrrDefType: UInt32 = 0x2ff
    static let tscDeadline: UInt32 = 0x6e0
    static let efer: UInt32 = 0xc000_0080, star: UInt32 = 0xc000_0081, lstar: UInt32 = 0xc000_0082
    static let cstar: UInt32 = 0xc000_0083, fmask: UInt32 = 0xc000_0084
    static let fsBase: UInt32 = 0xc000_0100, gsBase: UInt32 = 0xc000_0101, kernelGSBase: UInt32 = 0xc000_0102
    static let tscAux: UInt32 = 0xc000_0103
    /// AMD's interrupt-pending message register (BKDG for family 0Fh): Linux reads it on the AMD
    /// CPUs erratum 400 names, ours among them, to see whether C1E is on.
    static let interruptPendingMessage: UInt32 = 0xc001_0055
    /// AMD's legacy performance counters, on every AMD CPU since K7: PERF_CTL0-3 then PERF_CTR0-3
    /// (APM vol. 2, 13.2.1). They hold what is written and count nothing: no event reaches them.
    static let performanceControls: ClosedRange<UInt32> = 0xc001_0000...0xc001_0003
    static let performanceCounters: ClosedRange<UInt32> = 0xc001_0004...0xc001_0007
    /// AMD HWCR (APM vol. 2, appendix A; BKDG): Linux reads it while identifying an AMD CPU, and
    /// bit 24 (TscFreqSel) tells it the TSC runs at the P0 frequency, which vmm's constant-rate
    /// TSC does; writes may set McStatusWrEn (bit 18) and TscFreqSel, as KVM allows.
    static let hardwareConfiguration: UInt32 = 0xc001_0015
    /// AMD NB_CFG: Linux sets its extended-APIC-ID bit on family 10h and later; there is no
    /// northbridge here, so writes are dropped and reads give 0, as under KVM.
    static let northbridgeConfiguration: UInt32 = 0xc001_001f
    /// KVM's paravirtual clock (msr.rst): MSR_KVM_WALL_CLOCK_NEW and MSR_KVM_SYSTEM_TIME_NEW.
    static let kvmWallClock: UInt32 = 0x4b56_4d00
    static let kvmSystemTime: UInt32 = 0x4b56_4d01
}

/// The MSR-only state of the CPU (FS/GS bases live in the segment caches, EFER in `CPUCore`).
struct ModelSpecificRegisters {
    var star: UInt64 = 0, lstar: UInt64 = 0, cstar: UInt64 = 0, fmask: UInt64 = 0
    var kernelGSBase: UInt64 = 0
    var sysenterCS: UInt64 = 0, sysenterESP: UInt64 = 0, sysenterEIP: UInt64 = 0
    /// Power-on PAT (SDM vol. 3, 11.12.4).
    var pat: UInt64 = 0x0007_0406_0007_0406
    /// Fast strings enabled (bit 0), as firmware leaves it.
    var miscEnable: UInt64 = 1
    var tscAux: UInt64 = 0
    var apicBase: UInt64 = 0xfee0_0900
    var mtrrDefType: UInt64 = 0
    /// Added to the host-derived counter so WRMSR TSC and TSC_ADJUST work.
    var tscOffset: UInt64 = 0
    /// The guest-physical addresses last written to the KVM clock MSRs (bit 0: enabled).
    var kvmSystemTime: UInt64 = 0, kvmWallClock: UInt64 = 0
    /// AMD HWCR: TscFreqSel set, as on hardware.
    var hardwareConfiguration: UInt64 = 1 << 24
    /// AMD PERF_CTL0-3 and PERF_CTR0-3, in index order.
    var performance: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    /// The HWCR bits a guest may change: McStatusWrEn and TscFreqSel. KVM also ignores writes of
    /// three legacy bits (TLB cache disable, flush filter disable, IGNNE emulation).
    static let hardwareConfigurationWritable: UInt64 = 1 << 18 | 1 << 24
    static let hardwareConfigurationIgnored: UInt64 = 1 << 3 | 1 << 6 | 1 << 8

    /// The 48 bits a legacy AMD counter implements (APM vol. 2, 13.2.1.2).
    static let counterMask: UInt64 = (1 << 48) - 1

    func performanceRegister(_ index: UInt32) -> UInt64 {
        withUnsafeBytes(of: performance) { $0.load(fromByteOffset: Int(index & 7) * 8, as: UInt64.self) }
    }

    mutating func setPerformanceRegister(_ index: UInt32, _ value: UInt64) {
        withUnsafeMutableBytes(of: &performance) { $0.storeBytes(of: value, toByteOffset: Int(index & 7) * 8, as: UInt64.self) }
    }
}
