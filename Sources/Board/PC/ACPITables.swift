import ACPIPM
import PCI
import VMMKit

/// The ACPI tables a PC's firmware leaves for the OS (ACPI 6.4, chapter 5), as few as describe this
/// board: RSDP, XSDT and RSDT; a FADT pointing at the PM registers of `ACPIPowerManagement` and at a
/// DSDT that holds only the \_S5 (soft-off) sleep type; and the MADT, which lists one local APIC
/// per vCPU, the I/O APIC, and the overrides for ISA IRQ 0 (on GSI 2) and the SCI (IRQ 9, level).
/// Without a MADT, Linux booted through PVH (Debian's kernels have no MP-table parser) sees only
/// CPU 0. Not hardware-reduced ACPI: in that mode Linux drops the legacy PIC and with it the ISA
/// interrupts the UART and the RTC use.
/// With a PCI host bridge, the DSDT also holds it (a PNP0A08 device whose `_CRS` gives bus 0 and
/// the BAR windows) and a PNP0C02 motherboard device reserving the ECAM window, which the MCFG
/// table points at (PCI Firmware 3.2, 4.1.2); Linux accepts ECAM only in reserved memory.
/// Written in the BIOS area where the OS searches for the RSDP (ACPI 6.4, 5.2.5.1: 0xE0000-0xFFFFF),
/// which the boot memory maps report as reserved.
enum ACPITables {
    static let rsdpAddress: UInt64 = 0xE_0000
    static let ioAPICAddress: UInt32 = 0xFEC0_0000
    static let localAPICAddress: UInt32 = 0xFEE0_0000
    /// The I/O APIC's ID register after reset (Sources/Devices/IOAPIC).
    static let ioAPICID: UInt8 = 0
    static let oemID = Array("VMMSWF".utf8)
    /// The SCI's ISA IRQ, as on PIIX4-based PCs.
    static let sciIRQ: UInt8 = 9
    /// DSDT AML (ACPI 6.4, 19.6.104 and 20.2): Name (_S5_, Package (4) { 5, 5, 0, 0 }), the SLP_TYP
    /// values `ACPIPowerManagement` turns off on.
    static let softOffObject: [UInt8] = [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04,
                                         0x0A, UInt8(ACPIPowerManagement.softOffSleepType),
                                         0x0A, UInt8(ACPIPowerManagement.softOffSleepType), 0x00, 0x00]

    /// Writes every table for `cpus` vCPUs, CPU 0 first, and for the PCI host bridge's `pci`
    /// windows if there is one.
    static func write(into memory: GuestMemory, cpus: Int, pci: PCIAddressWindows?) throws(GuestMemoryError) {
        // The tables follow the RSDP, each 16-byte aligned.
        var next = rsdpAddress + 48
        func place(_ table: [UInt8]) throws(GuestMemoryError) -> UInt64 {
            let address = next
            try memory.write(table, at: address)
            next = (address + UInt64(table.count) + 15) & ~15
            return address
        }
        let devices = pci.map { AML.scope("\\_SB", pciHostBridgeDevices($0)) } ?? []
        let dsdt = try place(table("DSDT", revision: 2, body: softOffObject + devices))
        var tables = [try place(table("FACP", revision: 6, body: fadtBody(dsdt: dsdt)))]
        tables.append(try place(table("APIC", revision: 5, body: madtBody(cpus: cpus))))
        if let pci { tables.append(try place(table("MCFG", revision: 1, body: mcfgBody(pci)))) }
        let xsdt = try place(table("XSDT", revision: 1, body: tables.flatMap { littleEndian($0) }))
        let rsdt = try place(table("RSDT", revision: 1, body: tables.flatMap { littleEndian(UInt32($0)) }))
        try memory.write(rsdp(rsdt: rsdt, xsdt: xsdt), at: rsdpAddress)
    }

    /// The root pointer (5.2.5.3), revision 2: both checksums, the RSDT and the XSDT.
    static func rsdp(rsdt: UInt64, xsdt: UInt64) -> [UInt8] {
        var bytes = Array("RSD PTR ".utf8) + [0] + oemID + [2] + littleEndian(UInt32(rsdt))
        bytes += littleEndian(UInt32(36)) + littleEndian(xsdt) + [0, 0, 0, 0]
        bytes[8] = checksum(bytes[0..<20])
        bytes[32] = checksum(bytes)
        return bytes
    }

    /// A description header (5.2.6) around `body`, with its checksum.
    static func table(_ signature: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
        var bytes = Array(signature.utf8) + littleEndian(UInt32(36 + body.count)) + [revision, 0] + oemID
        bytes += Array("VMMPC   ".utf8) + littleEndian(UInt32(1)) + Array("VMM ".utf8) + littleEndian(UInt32(1))
        bytes += body
        bytes[9] = checksum(bytes)
        return bytes
    }

    /// The FADT after its header (5.2.9, revision 6, 276 bytes in all): the DSDT, the SCI, the PM1a
    /// event and control blocks and the PM timer (no SMI command port: always in ACPI mode), boot
    /// architecture flags saying legacy ISA devices and the 8042 are there, the CMOS century, and the
    /// reset register (`ResetControlRegister` at 0xCF9, as QEMU's q35 FADT names it).
    static func fadtBody(dsdt: UInt64) -> [UInt8] {
        var body = [UInt8](repeating: 0, count: 276 - 36)
        func put(_ bytes: [UInt8], at offset: Int) { body.replaceSubrange(offset - 36..<offset - 36 + bytes.count, with: bytes) }
        let pm = UInt32(ACPIPowerManagement.defaultBase)
        put(littleEndian(UInt32(dsdt)), at: 40)
        put(littleEndian(UInt16(sciIRQ)), at: 46)                                        // SCI_INT
        put(littleEndian(pm + UInt32(ACPIPowerManagement.eventBlock)), at: 56)           // PM1a_EVT_BLK
        put(littleEndian(pm + UInt32(ACPIPowerManagement.controlBlock)), at: 64)         // PM1a_CNT_BLK
        put(littleEndian(pm + UInt32(ACPIPowerManagement.timerBlock)), at: 76)           // PM_TMR_BLK
        put([4, 2, 0, 4], at: 88)                          // PM1_EVT_LEN, PM1_CNT_LEN, PM2_CNT_LEN, PM_TMR_LEN
        put([0x32], at: 108)                               // CENTURY: CMOS index of the century
        put(littleEndian(UInt16(0x0003)), at: 109)         // IAPC_BOOT_ARCH: LEGACY_DEVICES, 8042
        // Flags: WBINVD, PROC_C1, no fixed power or sleep button, RESET_REG_SUP (bits 0, 2, 4, 5, 10).
        put(littleEndian(UInt32(0x435)), at: 112)
        // RESET_REG (5.2.3.2, a Generic Address Structure): system I/O, 8 bits at offset 0, byte
        // access, at the reset control port; then RESET_VALUE.
        put([1, 8, 0, 1] + littleEndian(ResetControlRegister.port), at: 116)
        put([ResetControlRegister.resetValue], at: 128)
        put([4], at: 131)                                  // FADT minor version (6.4)
        put(littleEndian(dsdt), at: 140)                   // X_DSDT
        return body
    }

    /// The MADT after its header (5.2.12): the local APIC address, PCAT_COMPAT (the 8259s are
    /// there), then the local APICs, the I/O APIC, IRQ 0 on GSI 2 (as the board wires it) and NMI
    /// on every CPU's LINT1.
    static func madtBody(cpus: Int) -> [UInt8] {
        var body = littleEndian(localAPICAddress) + littleEndian(UInt32(1))
        for cpu in 0..<cpus {
            body += [0, 8, UInt8(truncatingIfNeeded: cpu), UInt8(truncatingIfNeeded: cpu)] + littleEndian(UInt32(1))
        }
        body += [1, 12, ioAPICID, 0] + littleEndian(ioAPICAddress) + littleEndian(UInt32(0))
        body += [2, 10, 0, 0] + littleEndian(UInt32(2)) + littleEndian(UInt16(0))
        // The SCI: active high (bits 1:0 = 01), level triggered (bits 3:2 = 11), as PIIX4 wires it.
        body += [2, 10, 0, sciIRQ] + littleEndian(UInt32(sciIRQ)) + littleEndian(UInt16(0x000D))
        body += [4, 6, 0xFF] + littleEndian(UInt16(0)) + [1]
        return body
    }

    /// Device (PCI0): the host bridge (a PCI Express root, compatible with plain PCI) of segment
    /// 0, bus 0, producing the bus number and its memory windows (ACPI 6.4, 6.1.5 _HID, 6.2.2 _CRS);
    /// and Device (MRES), motherboard resources holding the ECAM window.
    static func pciHostBridgeDevices(_ windows: PCIAddressWindows) -> [UInt8] {
        let bridge = AML.device("PCI0",
            AML.name("_HID", AML.eisaID("PNP0A08")) + AML.name("_CID", AML.eisaID("PNP0A03"))
                + AML.name("_UID", AML.integer(0)) + AML.name("_SEG", AML.integer(0)) + AML.name("_BBN", AML.integer(0))
                + AML.name("_CRS", AML.resourceTemplate([AML.busNumbers(0...0), AML.memory32Window(windows.memory32)]
                    + (windows.memory64.map { [AML.memory64Window($0)] } ?? []))))
        let reserved = AML.device("MRES",
            AML.name("_HID", AML.eisaID("PNP0C02")) + AML.name("_UID", AML.integer(1))
                + AML.name("_CRS", AML.resourceTemplate([AML.fixedMemory32(windows.configuration)])))
        return bridge + reserved
    }

    /// The MCFG after its header (PCI Firmware 3.2, 4.1.2): eight reserved bytes, then one
    /// allocation: the ECAM base, segment 0, buses 0 to 0.
    static func mcfgBody(_ windows: PCIAddressWindows) -> [UInt8] {
        [UInt8](repeating: 0, count: 8) + littleEndian(windows.configurationBase) + littleEndian(UInt16(0))
            + [0, 0] + [0, 0, 0, 0]
    }

    /// The byte that makes `bytes` sum to zero.
    static func checksum<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        0 &- bytes.reduce(0, &+)
    }

    static func littleEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        (0..<MemoryLayout<T>.size).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) }
    }
}
