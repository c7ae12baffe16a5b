/// The fixed landmarks of a PC's guest-physical address space that the machine, the firmware
/// tables and the devices agree on (the RTC reports RAM sizes around them in CMOS).
public enum PCMemoryMap {
    /// Top of conventional memory: the EBDA and BIOS area start here.
    public static let conventionalMemoryEnd: UInt64 = 0x9_fc00
    /// Start of the MMIO hole below 4 GiB (IOAPIC, LAPIC, PCI windows); RAM beyond it moves up.
    public static let mmioHoleStart: UInt64 = 0xc000_0000
    /// Where RAM above the hole resumes.
    public static let highMemoryStart: UInt64 = 0x1_0000_0000
}
