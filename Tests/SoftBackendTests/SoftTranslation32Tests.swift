import SoftBackend
import VMMKit
import XCTest

/// 32-bit code in the block translator: translated under the segment registers as they were
/// (`TranslationAssumptions`), and never run under others. A loop reads through DS: flat, with a base,
/// with a base that wraps at 4 GiB, and with a limit its access breaks; each run must give what the
/// interpreter gives, whether the loop was translated under that DS (a fresh vCPU for each) or under
/// the DS before (one vCPU for all).
final class SoftTranslation32Tests: XCTestCase {
    /// mov ecx, 100; loop: mov eax, [0x200000]; add ebx, eax; dec ecx; jne loop; hlt.
    static let loop: [UInt8] = [
        0xb9, 0x64, 0x00, 0x00, 0x00, // +0  mov ecx, 100
        0xa1, 0x00, 0x00, 0x20, 0x00, // +5  mov eax, [0x200000] (DS)
        0x01, 0xc3,                   // +10 add ebx, eax
        0x49,                         // +12 dec ecx
        0x75, 0xf6,                   // +13 jne +5
        0xf4,                         // +15 hlt
    ]
    static let offset: UInt64 = 0x20_0000

    func dataSegment(base: UInt64, limit: UInt32 = 0xffff_ffff) -> SegmentRegister {
        SegmentRegister(selector: 0x18, base: base, limit: limit, type: 3, db: true, granularity: limit == 0xffff_ffff)
    }

    /// Runs the loop from its start with DS = `segment`; returns how it ended and EBX.
    func runLoop(_ fixture: SoftCPUFixture, ds segment: SegmentRegister) throws -> (SoftStepOutcome, UInt64) {
        try fixture.setSystemRegisters { $0.ds = segment }
        try fixture.setRegisters { $0.rip = SoftCPUFixture.codeAddress; $0.rbx = 0 }
        let outcome = try fixture.cpu.step(instructions: 1000)
        return (outcome, try fixture.cpu.generalRegisters().rbx)
    }

    func testTranslatedCodeFollowsTheDataSegment() throws {
        try requireTranslation()
        let segments = [("flat", dataSegment(base: 0)), ("base 0x1000", dataSegment(base: 0x1000)),
                        ("base 0xfffff000, wrapping", dataSegment(base: 0xffff_f000)), ("flat again", dataSegment(base: 0)),
                        ("limit below the operand", dataSegment(base: 0, limit: 0x1f_ffff))]
        let expected = ["flat: halted, ebx 100", "base 0x1000: halted, ebx 200", "base 0xfffff000, wrapping: halted, ebx 300",
                        "flat again: halted, ebx 100", "limit below the operand: exception(vector: 13, errorCode: Optional(0)), ebx 0"]
        for (translated, fresh) in [(false, false), (true, false), (true, true)] {
            var fixture = try makeFixture(translated: translated)
            var lines: [String] = []
            for (name, segment) in segments {
                if fresh { fixture = try makeFixture(translated: translated) }
                let before = fixture.cpu.nativeInstructionsRetired
                let (outcome, sum) = try runLoop(fixture, ds: segment)
                lines.append("\(name): \(outcome), ebx \(sum)")
                let native = fixture.cpu.nativeInstructionsRetired - before
                if translated && (fresh || name == "flat again") && outcome == .halted {
                    XCTAssertGreaterThan(native, 300, "\(name): the loop ran translated")
                }
            }
            XCTAssertEqual(lines, expected, translated ? (fresh ? "translated under each DS" : "translated under the first DS") : "interpreted")
        }
    }

    private func makeFixture(translated: Bool) throws -> SoftCPUFixture {
        let fixture = try SoftCPUFixture(.protected32, code: Self.loop)
        fixture.cpu.translationEnabled = translated
        fixture.cpu.translationThreshold = 1
        for (address, value) in [(Self.offset, 1), (Self.offset + 0x1000, 2), (Self.offset - 0x1000, 3)] as [(UInt64, UInt32)] {
            try fixture.machine.memory.write(value, at: address)
        }
        return fixture
    }

    /// CALL, PUSH, POP and RET of 32-bit code with a 32-bit stack: as the 64-bit test in
    /// SoftTranslationGuestTests, a loop calls a function 1,000 times.
    func testCallsAndStackOperationsTranslated() throws {
        let code: [UInt8] = [
            0x31, 0xc0,                   // +0  xor eax, eax
            0xb9, 0xe8, 0x03, 0x00, 0x00, // +2  mov ecx, 1000
            0xe8, 0x0a, 0x00, 0x00, 0x00, // +7  call +22
            0x49,                         // +12 dec ecx
            0x75, 0xf8,                   // +13 jne +7
            0xf4,                         // +15 hlt
            0x90, 0x90, 0x90, 0x90, 0x90, 0x90, // +16
            0x53,                         // +22 push ebx
            0x89, 0xcb,                   // +23 mov ebx, ecx
            0x01, 0xd8,                   // +25 add eax, ebx
            0x5b,                         // +27 pop ebx
            0xc3,                         // +28 ret
        ]
        try requireTranslation()
        var results: [GeneralRegisters] = []
        for translated in [false, true] {
            let fixture = try SoftCPUFixture(.protected32, code: code)
            // Junk in RSP's upper half: a 32-bit stack write leaves the same RSP either way.
            try fixture.setRegisters { $0.rbx = 0x5eed; $0.rsp |= 0xdead_0000_0000_0000 }
            fixture.cpu.translationEnabled = translated
            fixture.cpu.translationThreshold = 1
            XCTAssertEqual(try fixture.cpu.step(instructions: 9000), .halted)
            results.append(try fixture.cpu.generalRegisters())
            if translated {
                XCTAssertGreaterThan(fixture.cpu.nativeInstructionsRetired, 5000, "the calls ran as host code")
            }
        }
        XCTAssertEqual(results[1].rax, 500_500)
        XCTAssertEqual(results[1].rbx, 0x5eed, "PUSH/POP kept EBX")
        XCTAssertEqual(results[1].rsp, results[0].rsp, "the stack is balanced, RSP the same")
        XCTAssertEqual(results[1].rip, results[0].rip)
        XCTAssertEqual(results[1].rflags, results[0].rflags)
    }
}
