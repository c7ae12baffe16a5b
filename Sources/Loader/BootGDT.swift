import VMMKit

/// The flat GDT vmm writes at its boot layout's `gdt` address before entry, with the selectors Linux's boot
/// protocols expect (__BOOT_CS = 0x10, __BOOT_DS = 0x18; Documentation/arch/x86/boot.rst) and a
/// 64-bit code segment for long-mode entry.
public enum BootGDT {
    public static let code32Selector: UInt16 = 0x10
    public static let dataSelector: UInt16 = 0x18
    public static let code64Selector: UInt16 = 0x20

    /// The raw descriptors (SDM vol. 3, 3.4.5): null, null, code32, data, code64.
    public static let descriptors: [UInt64] = [
        0,
        0,
        0x00cf_9b00_0000_ffff, // base 0, limit 4 GiB, execute/read, accessed, D=1, G=1
        0x00cf_9300_0000_ffff, // base 0, limit 4 GiB, read/write, accessed, B=1, G=1
        0x00af_9b00_0000_ffff, // 64-bit code: L=1, D=0
    ]

    public static func register(base: UInt64) -> DescriptorTableRegister {
        DescriptorTableRegister(base: base, limit: UInt16(descriptors.count * 8 - 1))
    }

    public static func write(into memory: GuestMemory, at base: UInt64 = BootLayout.standard.gdt)
        throws(GuestMemoryError)
    {
        for (index, descriptor) in descriptors.enumerated() {
            try memory.write(descriptor, at: base + UInt64(index * 8))
        }
    }

    /// The hidden-cache view of the descriptors above, as a segment load would leave it.
    static let code32 = SegmentRegister(selector: code32Selector, base: 0, limit: 0xffff_ffff, type: 0xb,
                                        db: true, granularity: true)
    static let data = SegmentRegister(selector: dataSelector, base: 0, limit: 0xffff_ffff, type: 0x3,
                                      db: true, granularity: true)
    static let code64 = SegmentRegister(selector: code64Selector, base: 0, limit: 0xffff_ffff, type: 0xb,
                                        db: false, long: true, granularity: true)
    /// A busy 32-bit TSS: VM entry requires a usable TR (SDM vol. 3, 26.3.1.2) even if never used.
    static let taskRegister = SegmentRegister(selector: 0, base: 0, limit: 0x67, type: 0xb, db: false,
                                              granularity: false, codeOrData: false)
    static let noLDT: SegmentRegister = {
        var ldt = SegmentRegister(selector: 0, base: 0, limit: 0xffff, type: 0x2, db: false, granularity: false,
                                  codeOrData: false)
        ldt.unusable = true
        ldt.present = false
        return ldt
    }()
}
