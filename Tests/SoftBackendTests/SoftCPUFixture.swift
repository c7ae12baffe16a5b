import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// A standalone Soft vCPU over a small machine, in one of the CPU modes the tests need, with code
/// placed at `codeAddress` and stepped instruction by instruction.
final class SoftCPUFixture {
    enum Mode { case long64, protected32, real16 }

    static let codeAddress: UInt64 = 0x10_0000
    static let dataAddress: UInt64 = 0x20_0000
    let machine: Machine
    let cpu: SoftVirtualCPU

    init(_ mode: Mode, code: [UInt8], memorySize: UInt64 = 16 << 20, vcpuCount: Int = 1) throws {
        machine = try Machine(memorySize: memorySize, vcpuCount: vcpuCount)
        try BootGDT.write(into: machine.memory)
        cpu = try SoftBackend().makeStandaloneVCPU(machine: machine)
        let state: BootState
        switch mode {
        case .long64:
            try IdentityPageTables.write(into: machine.memory)
            state = BootState.longMode(entry: Self.codeAddress)
        case .protected32:
            var flat = BootState.flatProtectedMode(entry: UInt32(Self.codeAddress), eax: 0, ebx: 0)
            flat.general.rsp = BootLayout.standard.stackTop
            state = flat
        case .real16:
            var real = BootState()
            real.general.rip = 0x7c00
            real.general.rsp = 0x7000
            for keyPath in [\SystemRegisters.cs, \.ds, \.es, \.ss, \.fs, \.gs] {
                real.system[keyPath: keyPath] = SegmentRegister(selector: 0, base: 0, limit: 0xffff, type: keyPath == \.cs ? 0xb : 3,
                                                                db: false, granularity: false)
            }
            real.system.cr0 = ControlBits.cr0ET
            real.system.idt = DescriptorTableRegister(base: 0, limit: 0x3ff)
            state = real
        }
        try cpu.setSystemRegisters(state.system)
        try cpu.setGeneralRegisters(state.general)
        try machine.memory.write(code, at: mode == .real16 ? 0x7c00 : Self.codeAddress)
    }

    /// Steps `count` instructions, failing the test unless they all complete.
    @discardableResult
    func step(_ count: Int, file: StaticString = #filePath, line: UInt = #line) throws -> GeneralRegisters {
        let outcome = try cpu.step(instructions: count)
        XCTAssertEqual(outcome, .completed, file: file, line: line)
        return try cpu.generalRegisters()
    }

    /// Writes more code at `codeAddress + offset`.
    func place(_ bytes: [UInt8], at offset: UInt64) throws {
        try machine.memory.write(bytes, at: Self.codeAddress + offset)
    }

    func setSystemRegisters(_ change: (inout SystemRegisters) -> Void) throws {
        var registers = try cpu.systemRegisters()
        change(&registers)
        try cpu.setSystemRegisters(registers)
    }

    /// A 64-bit interrupt gate (type 0xE, present, DPL 0) for `vector` in an IDT at `idtBase`.
    func writeInterruptGate(vector: Int, handler: UInt64, idtBase: UInt64 = 0x30_0000) throws {
        let low = (handler & 0xffff) | UInt64(BootGDT.code64Selector) << 16 | 0x8e << 40 | (handler & 0xffff_0000) << 32
        try machine.memory.write(low, at: idtBase + UInt64(vector) * 16)
        try machine.memory.write(handler >> 32, at: idtBase + UInt64(vector) * 16 + 8)
        try setSystemRegisters { $0.idt = DescriptorTableRegister(base: idtBase, limit: 0xfff) }
    }

    func setRegisters(_ change: (inout GeneralRegisters) -> Void) throws {
        var registers = try cpu.generalRegisters()
        change(&registers)
        try cpu.setGeneralRegisters(registers)
    }

    /// A fixture whose `code`, a loop, has run 300 instructions with translation on: its blocks
    /// are translated (where the host can run translated code) before a test arms something.
    static func warmedUp(_ code: [UInt8], mode: Mode = .long64, file: StaticString = #filePath,
                         line: UInt = #line) throws -> SoftCPUFixture {
        let fixture = try SoftCPUFixture(mode, code: code)
        fixture.cpu.translationEnabled = true
        fixture.cpu.translationThreshold = 1
        XCTAssertEqual(try fixture.cpu.step(instructions: 300), .completed, file: file, line: line)
        if SoftBackend.translationAvailable {
            XCTAssertGreaterThan(fixture.cpu.translatedBlocks, 0, "the loop ran translated", file: file, line: line)
        }
        return fixture
    }

    /// Steps (up to `instructions`) to a #DB trap and checks where it left the vCPU: RIP at
    /// `codeAddress + offset` (0 for a repeated string instruction stopped part-way, to resume it),
    /// RCX, another register where `also` says, and DR6.B0-B3 equal to `hits`.
    func assertDebugTrap(at offset: UInt64, rcx: UInt64, also: (KeyPath<GeneralRegisters, UInt64>, UInt64)? = nil, hits: UInt64,
                         instructions: Int = 10, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(try cpu.step(instructions: instructions), .exception(vector: 1, errorCode: nil), file: file, line: line)
        let registers = try cpu.generalRegisters()
        XCTAssertEqual(registers.rip, Self.codeAddress + offset, file: file, line: line)
        XCTAssertEqual(registers.rcx, rcx, file: file, line: line)
        if let (register, value) = also { XCTAssertEqual(registers[keyPath: register], value, file: file, line: line) }
        XCTAssertEqual(try cpu.debugRegisters().dr6 & 0xf, hits, file: file, line: line)
    }

    /// RFLAGS' arithmetic bits: CF PF AF ZF SF OF.
    func arithmeticFlags() throws -> UInt64 { try cpu.generalRegisters().rflags & 0x8d5 }
}

/// RFLAGS bits by name for assertions.
enum SoftFlag {
    static let cf: UInt64 = 1, pf: UInt64 = 4, af: UInt64 = 0x10, zf: UInt64 = 0x40, sf: UInt64 = 0x80
    static let `if`: UInt64 = 0x200, df: UInt64 = 0x400, of: UInt64 = 0x800
}

extension XCTestCase {
    /// Skips, saying why, where the Soft CPU's block translator cannot run.
    func requireTranslation() throws {
        guard SoftBackend.translationAvailable else {
            throw XCTSkip("translation is off: VMM_SOFT_JIT=0, or a host that is not x86-64 with LAHF/SAHF in 64-bit mode")
        }
    }
}
