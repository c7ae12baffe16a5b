/// The configuration bytes a PC BIOS leaves in CMOS RAM about the machine's memory and equipment,
/// which boot loaders and older kernels read when no firmware memory map is at hand. The layout
/// is the IBM PC/AT CMOS map; the same bytes are what QEMU's PC board (hw/i386/pc.c,
/// pc_cmos_init) fills in for SeaBIOS.
extension CMOSRAM {
    /// Equipment byte (0x14): bit 1 = maths coprocessor present; no diskette drives (bit 0 clear),
    /// primary display with its own BIOS (bits 5:4 = 00).
    static let equipment: UInt8 = 0x14
    static let baseMemoryKiB: UInt8 = 0x15
    static let extendedMemoryKiB: UInt8 = 0x17
    /// The same extended-memory size again, in the AMI/Award "actual extended memory" bytes.
    static let extendedMemoryKiBCopy: UInt8 = 0x30
    static let memoryAbove16MiBIn64KiB: UInt8 = 0x34
    /// Three bytes: RAM above 4 GiB in 64 KiB units (QEMU/SeaBIOS convention).
    static let memoryAbove4GiBIn64KiB: UInt8 = 0x5B

    /// Records `belowFourGiB` bytes of RAM from address 0 and `aboveFourGiB` from 4 GiB.
    mutating func recordMemory(belowFourGiB: UInt64, aboveFourGiB: UInt64, conventionalEnd: UInt64) {
        let mebibyte: UInt64 = 1 << 20
        self[Self.equipment] = 0x02
        // Conventional memory ends where the EBDA starts, as the boot memory map vmm hands over says.
        storeWord(min(belowFourGiB, conventionalEnd) / 1024, at: Self.baseMemoryKiB)
        // 16-bit fields saturate: 65535 KiB is "64 MiB or more", the rest is in 0x34/0x35.
        let extendedKiB = min(belowFourGiB > mebibyte ? (belowFourGiB - mebibyte) / 1024 : 0, 0xFFFF)
        storeWord(extendedKiB, at: Self.extendedMemoryKiB)
        storeWord(extendedKiB, at: Self.extendedMemoryKiBCopy)
        let above16MiB = belowFourGiB > 16 * mebibyte ? (belowFourGiB - 16 * mebibyte) >> 16 : 0
        storeWord(min(above16MiB, 0xFFFF), at: Self.memoryAbove16MiBIn64KiB)
        let above4GiB = min(aboveFourGiB >> 16, 0xFF_FFFF)
        storeWord(above4GiB, at: Self.memoryAbove4GiBIn64KiB)
        self[Self.memoryAbove4GiBIn64KiB + 2] = UInt8(truncatingIfNeeded: above4GiB >> 16)
    }
}
