/// MSR indices the Soft CPU implements itself (SDM vol. 4, table 2-2).
enum MSRIndex {
    static let tsc: UInt32 = 0x10, apicBase: UInt32 = 0x1b, mtrrCap: UInt32 = 0xfe
    static let sysenterCS: UInt32 = 0x174, sysenterESP: UInt32 = 0x175, sysenterEIP: UInt32 = 0x176
    static let mcgCap: UInt32 = 0x179, mcgStatus: UInt32 = 0x17a
    static let miscEnable: UInt32 = 0x1a0, pat: UInt32 = 0x277, mtrrDefType: UInt32 = 0x2ff
    static let tscDeadline: UInt32 = 0x6e0
    static let efer: UInt32 = 0xc000_0080, star: UInt32 = 0xc000_0081, lstar: UInt32 = 0xc000_0082
    static let cstar: UInt32 = 0xc000_0083, fmask: UInt32 = 0xc000_0084
    static let fsBase: UInt32 = 0xc000_0100, gsBase: UInt32 = 0xc000_0101, kernelGSBase: UInt32 = 0xc000_0102
    static let tscAux: UInt32 = 0xc000_0103
    /// AMD's interrupt-pending message register (BKDG for family 0Fh): Linux reads it on the AMD
    /// CPUs erratum 400 names, ours among them, to see whether C1E is on.
    static let interruptPendingMessage: UInt32 = 0xc001_0055
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
}
