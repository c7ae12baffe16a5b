import ACPIPM
import Foundation
import PCBoard
import TestSupport
import VMMKit
import XCTest

/// The PC's ACPI: the PM registers (`ACPIPowerManagement`) and the tables the board writes for the
/// OS, read back from guest memory as an OS would find them.
final class ACPITests: XCTestCase {
    private let pm = ACPIPowerManagement.defaultBase

    private func attached() throws -> (Machine, ACPIPowerManagement) {
        let machine = try Machine(memorySize: 16 << 20, vcpuCount: 1)
        let pm = ACPIPowerManagement()
        try machine.add(pm)
        return (machine, pm)
    }

    func testControlBlockSaysACPIModeAndS5PowersOff() throws {
        let (machine, _) = try attached()
        XCTAssertEqual(machine.ports.read(pm + 4, size: 2, vcpu: 0), 1, "SCI_EN: always in ACPI mode")
        machine.ports.write(pm + 4, size: 2, value: 5 << 10, vcpu: 0) // SLP_TYP without SLP_EN
        XCTAssertFalse(machine.runControl.isStopRequested)
        machine.ports.write(pm + 4, size: 2, value: 3 << 10 | 1 << 13, vcpu: 0) // another sleep type
        XCTAssertFalse(machine.runControl.isStopRequested, "only S5 is supported")
        machine.ports.write(pm + 4, size: 2, value: 5 << 10 | 1 << 13, vcpu: 0)
        XCTAssertEqual(machine.runControl.stopOutcome, .poweredOff)
    }

    func testEventBlockEnableIsReadWriteAndStatusClearsOnWrite() throws {
        let (machine, _) = try attached()
        machine.ports.write(pm + 2, size: 2, value: 0x0121, vcpu: 0)
        XCTAssertEqual(machine.ports.read(pm + 2, size: 2, vcpu: 0), 0x0121)
        XCTAssertEqual(machine.ports.read(pm, size: 4, vcpu: 0), 0x0121_0000, "no event is ever pending")
        machine.ports.write(pm, size: 2, value: 0xFFFF, vcpu: 0)
        XCTAssertEqual(machine.ports.read(pm + 2, size: 2, vcpu: 0), 0x0121, "clearing status leaves the enables")
    }

    /// Every port of the range answers, whatever the offset and size, and none stops the machine.
    /// Every width the bus API allows, 8 included (no guest IN/OUT is that wide, but the bus takes
    /// it: an 8-byte event-block write once trapped on its mask, found by DeviceRegisterFuzzTests).
    func testEveryPortAndSizeIsHarmless() throws {
        let (machine, _) = try attached()
        for offset in 0..<ACPIPowerManagement.length {
            for size in [1, 2, 4, 8] {
                _ = machine.ports.read(pm + offset, size: size, vcpu: 0)
                if offset != ACPIPowerManagement.controlBlock { machine.ports.write(pm + offset, size: size, value: ~0, vcpu: 0) }
            }
        }
        XCTAssertFalse(machine.runControl.isStopRequested)
    }

    func testPMTimerRunsAt3579545Hz() throws {
        let (machine, _) = try attached()
        let first = machine.ports.read(pm + 8, size: 4, vcpu: 0)
        usleep(20_000)
        let second = machine.ports.read(pm + 8, size: 4, vcpu: 0)
        let elapsed = (second &- first) & 0xFF_FFFF
        XCTAssertLessThan(first, 1 << 24)
        XCTAssertGreaterThan(elapsed, 20_000 * 3_579_545 / 1_000_000 / 2, "about 71,600 ticks in 20 ms")
    }

    // MARK: the tables

    private func assemblePC(cpus: Int) throws -> Machine {
        // Built on first use, so a fresh clone runs these instead of skipping them.
        let kernel = try GuestKernels.path("hello")
        let description = MachineDescription(kernelPath: kernel, memorySize: 64 << 20, cpus: cpus, serial: .none)
        return try PCBoard.assemble(description, registry: try PCBoard.deviceRegistry())
    }

    /// A table found at `address`: its signature and bytes, checksum verified.
    private func table(_ memory: GuestMemory, at address: UInt64) throws -> (signature: String, bytes: [UInt8]) {
        let length = Int(try memory.read(UInt32.self, at: address + 4))
        let bytes = try memory.readBytes(at: address, count: length)
        XCTAssertEqual(bytes.reduce(0, &+), 0, "checksum of the table at \(address)")
        return (String(decoding: bytes[0..<4], as: UTF8.self), bytes)
    }

    private func uint32(_ bytes: [UInt8], _ offset: Int) -> UInt32 {
        (0..<4).reduce(0) { $0 | UInt32(bytes[offset + $1]) << ($1 * 8) }
    }

    /// The tables the XSDT lists, by signature, found from the RSDP as an OS finds them.
    private func tables(_ memory: GuestMemory) throws -> [String: [UInt8]] {
        // The RSDP where OSes search for it (ACPI 6.4, 5.2.5.1), both checksums right.
        let rsdp = try memory.readBytes(at: 0xE_0000, count: 36)
        XCTAssertEqual(String(decoding: rsdp[0..<8], as: UTF8.self), "RSD PTR ")
        XCTAssertEqual(rsdp[0..<20].reduce(0, &+), 0)
        XCTAssertEqual(rsdp.reduce(0, &+), 0)
        let xsdt = try table(memory, at: UInt64(try memory.read(UInt64.self, at: 0xE_0000 + 24)))
        XCTAssertEqual(xsdt.signature, "XSDT")
        var tables: [String: [UInt8]] = [:]
        for offset in stride(from: 36, to: xsdt.bytes.count, by: 8) {
            let address = UInt64(uint32(xsdt.bytes, offset)) | UInt64(uint32(xsdt.bytes, offset + 4)) << 32
            let found = try table(memory, at: address)
            tables[found.signature] = found.bytes
        }
        return tables
    }

    /// The FADT's reset register (5.2.9, RESET_REG_SUP in the flags; RESET_REG and RESET_VALUE), and
    /// the write it describes resetting the board it describes; the 8042 is announced too.
    func testFADTResetRegisterResetsTheMachine() throws {
        let machine = try assemblePC(cpus: 1)
        defer { machine.devices.forEach { $0.stop() } }
        let fadt = try XCTUnwrap(try tables(machine.memory)["FACP"])
        XCTAssertNotEqual(uint32(fadt, 112) & 1 << 10, 0, "RESET_REG_SUP")
        XCTAssertEqual(fadt[109] & 0x02, 0x02, "IAPC_BOOT_ARCH: 8042 present")
        XCTAssertEqual(Array(fadt[116..<120]), [1, 8, 0, 1], "system I/O, 8 bits at bit 0, byte access")
        let port = UInt64(uint32(fadt, 120)) | UInt64(uint32(fadt, 124)) << 32
        let value = fadt[128]
        XCTAssertEqual(port, 0xCF9)
        XCTAssertFalse(machine.runControl.isResetPending)
        machine.ports.write(port, size: 1, value: UInt64(value), vcpu: 0)
        XCTAssertTrue(machine.runControl.isResetPending, "writing RESET_VALUE to RESET_REG resets")
    }

    func testTablesDescribeTheCPUsIOAPICAndPowerManagement() throws {
        let machine = try assemblePC(cpus: 3)
        defer { machine.devices.forEach { $0.stop() } }
        let memory = machine.memory
        let tables = try tables(memory)
        let fadt = try XCTUnwrap(tables["FACP"]), madt = try XCTUnwrap(tables["APIC"])
        XCTAssertEqual(uint32(fadt, 64), UInt32(pm + 4), "PM1a_CNT_BLK: ACPIPowerManagement's control block")
        XCTAssertEqual(uint32(fadt, 76), UInt32(pm + 8), "PM_TMR_BLK")
        let dsdt = try table(memory, at: UInt64(uint32(fadt, 40)))
        XCTAssertEqual(dsdt.signature, "DSDT")
        XCTAssertNotNil(dsdt.bytes.firstRange(of: Array("_S5_".utf8)), "the soft-off sleep type is declared")
        // MADT entries: type, length, ...
        var localAPICs: [UInt8] = [], ioAPICs = 0, overrides: [UInt8] = []
        var offset = 44
        while offset < madt.count {
            switch madt[offset] {
            case 0: localAPICs.append(madt[offset + 3])
            case 1: ioAPICs += 1
            case 2: overrides.append(madt[offset + 3])
            default: break
            }
            offset += Int(madt[offset + 1])
        }
        XCTAssertEqual(localAPICs, [0, 1, 2], "one local APIC per vCPU")
        XCTAssertEqual(ioAPICs, 1)
        XCTAssertEqual(overrides, [0, 9], "IRQ 0 on GSI 2, and the SCI")
    }

    /// The tables the OS reads for PCI: the MCFG's one allocation, and the DSDT as ACPICA's own
    /// disassembler (iasl, from acpica-tools) reads it back: the host bridge with its bus and
    /// memory windows (64 MiB of RAM: the 64-bit window starts at 4 GiB), and the motherboard
    /// device reserving ECAM.
    func testMCFGAndDSDTDescribeThePCIHostBridge() throws {
        let machine = try assemblePC(cpus: 1)
        defer { machine.devices.forEach { $0.stop() } }
        let memory = machine.memory
        let xsdt = try table(memory, at: UInt64(try memory.read(UInt64.self, at: 0xE_0000 + 24)))
        var tables: [String: [UInt8]] = [:]
        for offset in stride(from: 36, to: xsdt.bytes.count, by: 8) {
            let address = UInt64(uint32(xsdt.bytes, offset)) | UInt64(uint32(xsdt.bytes, offset + 4)) << 32
            let found = try table(memory, at: address)
            tables[found.signature] = found.bytes
        }
        let mcfg = try XCTUnwrap(tables["MCFG"])
        XCTAssertEqual(mcfg.count, 60, "header, reserved, one allocation")
        XCTAssertEqual(uint32(mcfg, 44), UInt32(PCBoard.pciWindows.configurationBase))
        XCTAssertEqual(Array(mcfg[52..<56]), [0, 0, 0, 0], "segment 0, buses 0-0")
        let fadt = try XCTUnwrap(tables["FACP"])
        let dsdt = try table(memory, at: UInt64(uint32(fadt, 40)))

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-dsdt-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("dsdt.aml")
        try Data(dsdt.bytes).write(to: file)
        let result = HostProcess.run("iasl", ["-d", file.path], timeout: 60)
        guard result.status != 127 else { throw XCTSkip("iasl is not installed (scripts/install-packages.sh test)") }
        XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
        let source = try String(contentsOf: directory.appendingPathComponent("dsdt.dsl"), encoding: .utf8)
        // Without iasl's comments and line breaks.
        let compact = source.replacingOccurrences(of: #"//[^\n]*|/\*[^*]*\*/"#, with: "", options: .regularExpression)
            .replacingOccurrences(of: #"\s+"#, with: " ", options: .regularExpression)
            .replacingOccurrences(of: #" \)"#, with: ")", options: .regularExpression)
        for expected in [
            "Device (PCI0)", #"Name (_HID, EisaId ("PNP0A08"))"#, #"Name (_CID, EisaId ("PNP0A03"))"#,
            "WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0x0000, 0x0000, 0x0000, 0x0000, 0x0001,",
            "DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x00000000, 0xE0000000, 0xFEBFFFFF, 0x00000000, 0x1EC00000,",
            "QWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable, ReadWrite, 0x0000000000000000, 0x0000000100000000, 0x00000004FFFFFFFF, 0x0000000000000000, 0x0000000400000000,",
            "Device (MRES)", #"Name (_HID, EisaId ("PNP0C02"))"#, "Memory32Fixed (ReadWrite, 0xC0000000, 0x00100000,",
            "Name (_S5, Package (0x04)",
        ] {
            XCTAssertTrue(compact.contains(expected), "\(expected) in:\n\(source)")
        }
    }
}
