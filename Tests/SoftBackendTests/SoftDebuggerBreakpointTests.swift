@testable import SoftBackend
import VMMKit
import XCTest

/// The debugger's breakpoints, watchpoints and single step in the Soft CPU: reported to the debugger
/// (the vCPU parks), never to the guest, and apart from the guest's own DR0-DR7 and TF, which keep
/// working for it with DR6 as hardware leaves it.
final class SoftDebuggerBreakpointTests: XCTestCase {
    static let code = SoftCPUFixture.codeAddress, data = SoftCPUFixture.dataAddress

    private func arm(_ cpu: SoftCPUFixture, _ change: (inout DebugBreakpoints) -> Void, singleStep: Bool = false) {
        var breakpoints = DebugBreakpoints()
        change(&breakpoints)
        cpu.cpu.core.pointee.armDebugger(breakpoints, singleStep: singleStep)
    }

    func testABreakpointStopsBeforeItsInstructionAndTheGuestSeesNothing() throws {
        // nop; nop; mov $1,%eax
        let cpu = try SoftCPUFixture(.long64, code: [0x90, 0x90, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x90])
        arm(cpu) { $0.software = [Self.code + 2] }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .debuggerStop(.softwareBreakpoint))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 2)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rax, 0, "not yet executed")
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6, DebugRegisters().dr6, "DR6 is the guest's")
        arm(cpu) { $0.hardware = [Self.code + 7] }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .debuggerStop(.hardwareBreakpoint))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rax, 1)
    }

    func testSingleStepStopsAfterOneInstructionWhateverTheGuestsTrapFlag() throws {
        let cpu = try SoftCPUFixture(.long64, code: [0xb8, 0x01, 0x00, 0x00, 0x00, 0xb8, 0x02, 0x00, 0x00, 0x00, 0x90])
        arm(cpu, { _ in }, singleStep: true)
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .debuggerStop(.singleStep))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 5)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rflags & RFlags.tf, 0, "the guest's TF stays clear")
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .debuggerStop(.singleStep))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rax, 2)
    }

    func testAWatchpointStopsAfterTheWriteWithTheAddressAndLeavesTheGuestsDataBreakpointToIt() throws {
        // mov %al,0x200000 (watched by gdb); mov %al,0x200010 (the guest's DR0 write breakpoint); nop
        let cpu = try SoftCPUFixture(.long64, code: [0x88, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,
                                                     0x88, 0x04, 0x25, 0x10, 0x00, 0x20, 0x00, 0x90])
        var guest = try cpu.cpu.debugRegisters()
        guest.dr0 = Self.data + 0x10
        guest.dr7 = 0x400 | 1 | 1 << 16 // L0, R/W0 = 01 (writes), LEN0 = 1 byte
        try cpu.cpu.setDebugRegisters(guest)
        arm(cpu) { $0.watchpoints = [Watchpoint(address: Self.data, length: 4, kind: .write)] }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .debuggerStop(.watchpoint(.write, address: Self.data)))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 7, "after the write")
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 0, "gdb's hit is no B bit of the guest's")
        // The guest's own breakpoint still raises its #DB (reported in step mode), with B0.
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .exception(vector: 1, errorCode: nil))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 14)
        XCTAssertEqual(try cpu.cpu.debugRegisters().dr6 & 0xf, 1)
    }

    func testReadWatchpointsIgnoreWritesAndAccessWatchpointsTakeBoth() throws {
        // mov %al,0x200000; mov 0x200000,%al; nop
        let code: [UInt8] = [0x88, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x8a, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x90]
        let reads = try SoftCPUFixture(.long64, code: code)
        arm(reads) { $0.watchpoints = [Watchpoint(address: Self.data, length: 1, kind: .read)] }
        XCTAssertEqual(try reads.cpu.step(instructions: 10), .debuggerStop(.watchpoint(.read, address: Self.data)))
        XCTAssertEqual(try reads.cpu.generalRegisters().rip, Self.code + 14, "the write went by")
        let both = try SoftCPUFixture(.long64, code: code)
        arm(both) { $0.watchpoints = [Watchpoint(address: Self.data, length: 1, kind: .access)] }
        XCTAssertEqual(try both.cpu.step(instructions: 10), .debuggerStop(.watchpoint(.access, address: Self.data)))
        XCTAssertEqual(try both.cpu.generalRegisters().rip, Self.code + 7)
    }

    /// A page written through the TLB before the watchpoint was armed must lose that entry.
    func testAWatchpointArmedAfterThePageWasCachedStillSeesTheWrite() throws {
        // mov %al,0x200000 twice; nop
        let cpu = try SoftCPUFixture(.long64, code: [0x88, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,
                                                     0x88, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00, 0x90])
        XCTAssertEqual(try cpu.cpu.step(instructions: 1), .completed)
        arm(cpu) { $0.watchpoints = [Watchpoint(address: Self.data, length: 1, kind: .write)] }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .debuggerStop(.watchpoint(.write, address: Self.data)))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 14)
    }

    /// A breakpoint on the Jcc of a fused compare-and-branch: the compare runs alone, then the stop.
    func testABreakpointOnTheBranchOfAFusedPair() throws {
        // mov $5,%eax; cmp $5,%eax; jne +1; nop; nop
        let cpu = try SoftCPUFixture(.long64, code: [0xb8, 0x05, 0x00, 0x00, 0x00, 0x83, 0xf8, 0x05, 0x75, 0x01, 0x90, 0x90])
        arm(cpu) { $0.software = [Self.code + 8] }
        XCTAssertEqual(try cpu.cpu.step(instructions: 10), .debuggerStop(.softwareBreakpoint))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 8)
        XCTAssertNotEqual(try cpu.cpu.generalRegisters().rflags & RFlags.zf, 0, "the compare ran")
    }

    /// A loop of two blocks hot enough to be translated and chained, then a breakpoint in the
    /// second: neither the translations nor their chain into each other may run past it.
    func testABreakpointInALoopAlreadyTranslated() throws {
        // mov $1000000,%ecx; loop: inc %eax; jmp next; next: dec %ecx; jnz loop; nop
        let cpu = try SoftCPUFixture(.long64, code: [0xb9, 0x40, 0x42, 0x0f, 0x00, 0xff, 0xc0, 0xeb, 0x00, 0xff, 0xc9,
                                                     0x75, 0xf8, 0x90])
        XCTAssertEqual(try cpu.cpu.step(instructions: 300_001), .completed)
        XCTAssertGreaterThan(cpu.cpu.nativeInstructionsRetired, 0, "the loop was translated")
        arm(cpu) { $0.hardware = [Self.code + 9] }
        XCTAssertEqual(try cpu.cpu.step(instructions: 1_000_000), .debuggerStop(.hardwareBreakpoint))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 9)
        let counted = try cpu.cpu.generalRegisters().rax
        // Taken out, the loop runs to its end.
        arm(cpu) { _ in }
        XCTAssertEqual(try cpu.cpu.step(instructions: 5_000_000), .completed)
        XCTAssertEqual(try cpu.cpu.generalRegisters().rax, 1_000_000)
        XCTAssertLessThan(counted, 1_000_000)
    }

    /// A loop translated while nothing was watched, then a watchpoint on the counter it increments:
    /// the translated code's TLB refills must leave the watched page to the interpreter.
    func testAWatchpointOnMemoryATranslatedLoopWrites() throws {
        // mov $1000000,%ecx; loop: incl 0x200000; dec %ecx; jnz loop; nop
        let cpu = try SoftCPUFixture(.long64, code: [0xb9, 0x40, 0x42, 0x0f, 0x00, 0xff, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00,
                                                     0xff, 0xc9, 0x75, 0xf5, 0x90])
        XCTAssertEqual(try cpu.cpu.step(instructions: 300_001), .completed)
        XCTAssertGreaterThan(cpu.cpu.nativeInstructionsRetired, 0, "the loop was translated")
        arm(cpu) { $0.watchpoints = [Watchpoint(address: Self.data, length: 4, kind: .write)] }
        XCTAssertEqual(try cpu.cpu.step(instructions: 1_000_000), .debuggerStop(.watchpoint(.write, address: Self.data)))
        XCTAssertEqual(try cpu.cpu.generalRegisters().rip, Self.code + 12, "right after the increment")
    }
}
