import FuzzTargets
import GDBStub
import VMMKit
import XCTest

/// A machine for the session to talk to: two vCPUs, 64 KiB of "physical" memory mapped at linear
/// 0x10000 (linear below that is unmapped), and a record of how it was resumed.
final class FakeTarget: DebugTarget {
    var files: [DebugRegisterFile]
    var memory = [UInt8](repeating: 0, count: 0x10000)
    var resumes: [(stepping: Int?, breakpoints: DebugBreakpoints)] = []
    var nextStop: DebugStop? = DebugStop(vcpu: 1, reason: .softwareBreakpoint)
    var killed = false
    let vcpuCount = 2

    init() {
        var general = GeneralRegisters()
        general.rax = 0x1122_3344_5566_7788
        general.rip = 0x10_0020
        var system = SystemRegisters()
        system.cs.selector = 0x8
        system.cr0 = 0x8000_0011
        system.cr3 = 0x10_2000
        system.efer = 0x500
        system.fs.base = 0xdead_0000
        files = [DebugRegisterFile(general: general, system: system), DebugRegisterFile(general: general, system: system)]
        files[1].general.rip = 0x10_0040
    }

    func stop() -> DebugStop? { nextStop }
    func resume(stepping: Int?, breakpoints: DebugBreakpoints) throws { resumes.append((stepping, breakpoints)) }
    func waitForStop(blocking: Bool) -> DebugStop?? { .some(nextStop) }
    func onChange(_ action: (@Sendable () -> Void)?) {}
    func registers(of vcpu: Int) throws -> DebugRegisterFile {
        guard files.indices.contains(vcpu) else { throw DebugTargetError.noSuchVCPU(vcpu) }
        return files[vcpu]
    }
    func setRegisters(_ registers: DebugRegisterFile, of vcpu: Int) throws { files[vcpu] = registers }
    func translate(_ linear: UInt64, vcpu: Int) throws -> UInt64? {
        linear >= 0x10000 && linear < 0x20000 ? linear - 0x10000 : nil
    }
    func readPhysical(at address: UInt64, count: Int) -> [UInt8] {
        guard address < UInt64(memory.count) else { return [] }
        return Array(memory[Int(address)..<min(Int(address) + count, memory.count)])
    }
    func writePhysical(_ bytes: [UInt8], at address: UInt64) -> Bool {
        guard address + UInt64(bytes.count) <= UInt64(memory.count) else { return false }
        memory.replaceSubrange(Int(address)..<Int(address) + bytes.count, with: bytes)
        return true
    }
    func supports(_ watchpoint: Watchpoint) -> Bool { watchpoint.length != 3 }
    func kill() { killed = true }
}

final class GDBSessionTests: XCTestCase {
    private var target: FakeTarget!
    private var session: GDBSession!

    override func setUp() {
        target = FakeTarget()
        session = GDBSession(target: target, architecture: .x86_64)
        _ = session.stopped(DebugStop(vcpu: 0, reason: .interrupted))
    }

    @discardableResult
    private func ask(_ packet: String) -> String {
        String(decoding: session.handle(Array(packet.utf8)).reply ?? [], as: UTF8.self)
    }

    func testSupportedFeaturesAndNoAckMode() {
        let features = ask("qSupported:multiprocess+;swbreak+;hwbreak+;qRelocInsn+")
        for feature in ["qXfer:features:read+", "QStartNoAckMode+", "swbreak+", "hwbreak+", "PacketSize="] {
            XCTAssertTrue(features.contains(feature), features)
        }
        XCTAssertTrue(session.acknowledges)
        XCTAssertEqual(ask("QStartNoAckMode"), "OK")
        XCTAssertFalse(session.acknowledges)
    }

    func testTargetDescriptionComesInPiecesAndNamesTheRegisters() {
        var document = ""
        var offset = 0
        while true {
            let piece = ask("qXfer:features:read:target.xml:\(String(offset, radix: 16)),100")
            XCTAssertTrue(piece.hasPrefix("m") || piece.hasPrefix("l"), piece)
            document += piece.dropFirst()
            offset += piece.count - 1
            if piece.hasPrefix("l") { break }
        }
        XCTAssertTrue(document.contains("<architecture>i386:x86-64</architecture>"))
        for name in ["org.gnu.gdb.i386.core", "org.gnu.gdb.i386.sse", "org.gnu.gdb.i386.segments", "name=\"rip\"",
                     "name=\"cs\"", "name=\"fs_base\"", "name=\"cr3\"", "name=\"efer\"", "name=\"xmm15\"", "name=\"st7\""] {
            XCTAssertTrue(document.contains(name), name)
        }
        XCTAssertEqual(ask("qXfer:features:read:other.xml:0,100"), "E00")
        XCTAssertEqual(ask("qXfer:features:read:target.xml:zz,100"), "E01")
        XCTAssertEqual(ask("qXfer:features:read:target.xml:ffffff,100"), "E01")

        let i386 = GDBSession(target: target, architecture: .i386)
        let piece = String(decoding: i386.handle(Array("qXfer:features:read:target.xml:0,fff".utf8)).reply ?? [], as: UTF8.self)
        XCTAssertTrue(piece.contains("<architecture>i386</architecture>") && piece.contains("name=\"eip\"") && !piece.contains("fs_base"))
    }

    func testThreadsAreVCPUs() {
        XCTAssertEqual(ask("qfThreadInfo"), "m1,2")
        XCTAssertEqual(ask("qsThreadInfo"), "l")
        XCTAssertEqual(ask("qC"), "QC1")
        XCTAssertEqual(ask("T2"), "OK")
        XCTAssertEqual(ask("T3"), "E02")
        XCTAssertEqual(ask("Hg2"), "OK")
        XCTAssertEqual(ask("qC"), "QC2")
        XCTAssertEqual(ask("Hg9"), "E02")
        XCTAssertEqual(ask("Hgq"), "E01")
        XCTAssertEqual(ask("qThreadExtraInfo,2"), GDBHex.encode("vCPU 1"))
        // p 10 is rip (register 16) on the selected vCPU.
        XCTAssertEqual(ask("p10"), "4000100000000000")
        XCTAssertEqual(ask("Hg1"), "OK")
        XCTAssertEqual(ask("p10"), "2000100000000000")
    }

    func testRegistersIncludingSegmentAndControlRegisters() {
        let all = ask("g")
        XCTAssertTrue(all.hasPrefix("8877665544332211"), all)
        // rax..r15 (16 x 16 digits), rip, eflags (8), then cs.
        let csStart = all.index(all.startIndex, offsetBy: 17 * 16 + 8)
        XCTAssertEqual(all[csStart..<all.index(csStart, offsetBy: 8)], "08000000")
        XCTAssertTrue(all.contains("xxxxxxxxxxxxxxxxxxxx"), "x87 state is reported unavailable")
        XCTAssertTrue(all.hasSuffix("0000adde00000000" + "0000000000000000" + "1100008000000000" + "0000000000000000"
                                    + "0020100000000000" + "0000000000000000" + "0000000000000000" + "0005000000000000"), all)
        // P writes one: rbx is register 1; cr3 is number 0x3c - 4 counting from the end.
        XCTAssertEqual(ask("P1=efbeadde00000000"), "OK")
        XCTAssertEqual(target.files[0].general.rbx, 0xdead_beef)
        XCTAssertEqual(ask("P1=efbe"), "E01", "a value of the wrong width")
        XCTAssertEqual(ask("P1=zz"), "E01")
        XCTAssertEqual(ask("Pfff=00"), "E01")
        XCTAssertEqual(ask("p999999999999999999"), "E01")
        // A segment selector may be written only with its own value.
        XCTAssertEqual(ask("P12=08000000"), "OK")
        XCTAssertEqual(ask("P12=10000000"), "E01")
        // G with the g reply written back changes nothing; with rax changed, only rax.
        XCTAssertEqual(ask("G" + ask("g")), "OK")
        XCTAssertEqual(ask("G" + "0100000000000000" + ask("g").dropFirst(16)), "OK")
        XCTAssertEqual(target.files[0].general.rax, 1)
        XCTAssertEqual(ask("G12345"), "E01")
    }

    func testX87AndSSERegistersAreReadOnly() {
        var floatingPoint = FloatingPointRegisters()
        floatingPoint.st[0] = [0, 0, 0, 0, 0, 0, 0, 0x80, 0xff, 0x3f] // 1.0
        floatingPoint.statusWord = 7 << 11 // TOP = 7: ST0 is physical register 7
        floatingPoint.abridgedTag = 0x80
        floatingPoint.xmm[0] = Array(0..<16)
        target.files[0].floatingPoint = floatingPoint
        // x86-64 numbering: st0 is 0x18, fctrl 0x20, ftag 0x22, xmm0 0x28, mxcsr 0x38.
        XCTAssertEqual(ask("p18"), "0000000000000080ff3f")
        XCTAssertEqual(ask("p20"), "7f030000")
        XCTAssertEqual(ask("p22"), "ff3f0000", "physical 7 valid, the rest empty")
        XCTAssertEqual(ask("p28"), "000102030405060708090a0b0c0d0e0f")
        XCTAssertEqual(ask("p38"), "801f0000")
        XCTAssertEqual(ask("P18=0000000000000080ff3f"), "OK", "the value it has")
        XCTAssertEqual(ask("P18=0000000000000000ff3f"), "E01", "read-only")
        XCTAssertEqual(ask("G" + ask("g")), "OK")
    }

    func testMemoryThroughThePageTablesAndPhysicalThroughTheMonitor() {
        target.memory[0x100...0x103] = [0xfe, 0xca, 0x0d, 0x60]
        XCTAssertEqual(ask("m10100,4"), "feca0d60")
        XCTAssertEqual(ask("m100,4"), "E14", "unmapped")
        XCTAssertEqual(ask("m1fffe,4"), "0000", "stops at the first unmapped byte")
        XCTAssertEqual(ask("M10200,2:abcd"), "OK")
        XCTAssertEqual(target.memory[0x200...0x201], [0xab, 0xcd])
        XCTAssertEqual(ask("M200,2:abcd"), "E14")
        XCTAssertEqual(ask("M10200,3:abcd"), "E01", "length and data disagree")
        XCTAssertEqual(ask("X10300,0:"), "OK", "gdb's probe for X")
        XCTAssertEqual(ask("X10300,2:" + String(decoding: [0x23, 0x7d], as: UTF8.self)), "OK")
        XCTAssertEqual(target.memory[0x300...0x301], [0x23, 0x7d])
        XCTAssertEqual(ask("m10100"), "E01")
        XCTAssertEqual(ask("m,"), "E01")
        XCTAssertEqual(ask("m0,ffffffffffffffff"), "E01")

        let dump = String(decoding: GDBHex.decode(Array(ask("qRcmd," + GDBHex.encode("phys 0x100 4")).utf8)) ?? [], as: UTF8.self)
        XCTAssertEqual(dump, "100: fe ca 0d 60\n")
        let translated = String(decoding: GDBHex.decode(Array(ask("qRcmd," + GDBHex.encode("translate 10100")).utf8)) ?? [], as: UTF8.self)
        XCTAssertTrue(translated.contains("guest-physical 0x100"), translated)
        XCTAssertEqual(ask("qRcmd," + GDBHex.encode("memory physical")).isEmpty, false)
        XCTAssertEqual(ask("m100,4"), "feca0d60", "m now reads guest-physical memory")
        let help = String(decoding: GDBHex.decode(Array(ask("qRcmd," + GDBHex.encode("help")).utf8)) ?? [], as: UTF8.self)
        XCTAssertTrue(help.contains("phys ADDRESS"))
        XCTAssertEqual(ask("qRcmd,zz"), "E01")
    }

    func testBreakpointsAndWatchpointsGoToTheTargetOnResume() {
        XCTAssertEqual(ask("Z0,100020,1"), "OK")
        XCTAssertEqual(ask("Z1,100030,1"), "OK")
        XCTAssertEqual(ask("Z2,101000,8"), "OK")
        XCTAssertEqual(ask("Z3,101010,4"), "OK")
        XCTAssertEqual(ask("Z4,101020,2"), "OK")
        XCTAssertEqual(ask("Z2,101030,1"), "E28", "four debug registers")
        XCTAssertEqual(ask("z4,101020,2"), "OK")
        XCTAssertEqual(ask("Z2,101030,3"), "E28", "a length the backend cannot watch")
        XCTAssertEqual(ask("Z2,101030,9"), "E01")
        XCTAssertEqual(ask("Z9,0,1"), "")
        XCTAssertEqual(ask("Z0,zz,1"), "E01")
        XCTAssertEqual(ask("Z0,1"), "E01")
        XCTAssertEqual(session.handle(Array("c".utf8)).next, .running)
        let armed = target.resumes.last!
        XCTAssertNil(armed.stepping)
        XCTAssertEqual(armed.breakpoints.software, [0x10_0020])
        XCTAssertEqual(armed.breakpoints.hardware, [0x10_0030])
        XCTAssertEqual(armed.breakpoints.watchpoints, [Watchpoint(address: 0x10_1000, length: 8, kind: .write),
                                                       Watchpoint(address: 0x10_1010, length: 4, kind: .read)])
    }

    func testStopRepliesNameTheThreadAndTheReason() {
        XCTAssertEqual(String(decoding: session.stopped(DebugStop(vcpu: 1, reason: .softwareBreakpoint)), as: UTF8.self), "T05thread:2;swbreak:;")
        XCTAssertEqual(ask("?"), "T05thread:2;swbreak:;")
        XCTAssertEqual(ask("qC"), "QC2", "the stopped vCPU becomes gdb's current thread")
        XCTAssertEqual(String(decoding: session.stopped(DebugStop(vcpu: 0, reason: .hardwareBreakpoint)), as: UTF8.self), "T05thread:1;hwbreak:;")
        XCTAssertEqual(String(decoding: session.stopped(DebugStop(vcpu: 0, reason: .watchpoint(.write, address: 0x101000))), as: UTF8.self),
                       "T05thread:1;watch:101000;")
        XCTAssertEqual(String(decoding: session.stopped(DebugStop(vcpu: 0, reason: .watchpoint(.access, address: 0x10))), as: UTF8.self),
                       "T05thread:1;awatch:10;")
        XCTAssertEqual(String(decoding: session.stopped(DebugStop(vcpu: 0, reason: .interrupted), byUser: true), as: UTF8.self), "T02thread:1;")
    }

    func testSteppingAndContinuing() {
        XCTAssertEqual(session.handle(Array("s".utf8)).next, .running)
        XCTAssertEqual(target.resumes.last!.stepping, 0)
        XCTAssertEqual(ask("vCont?"), "vCont;c;C;s;S")
        XCTAssertEqual(session.handle(Array("vCont;s:2;c".utf8)).next, .running)
        XCTAssertEqual(target.resumes.last!.stepping, 1)
        XCTAssertEqual(session.handle(Array("vCont;c".utf8)).next, .running)
        XCTAssertNil(target.resumes.last!.stepping)
        XCTAssertEqual(session.handle(Array("vCont;C05:1".utf8)).next, .running)
        XCTAssertEqual(ask("vCont;x"), "E01")
        XCTAssertEqual(ask("vCont;s:7"), "E02")
        // c ADDR resumes elsewhere.
        XCTAssertEqual(session.handle(Array("c100050".utf8)).next, .running)
        XCTAssertEqual(target.files[0].general.rip, 0x10_0050)
        XCTAssertEqual(ask("cxyz"), "E01")
        XCTAssertEqual(session.handle(Array("S05;100060".utf8)).next, .running)
        XCTAssertEqual(target.files[0].general.rip, 0x10_0060)
    }

    func testDetachClearsBreakpointsAndKillEndsTheMachine() {
        ask("Z0,100020,1")
        let detached = session.handle(Array("D".utf8))
        XCTAssertEqual(detached.next, .detached)
        XCTAssertEqual(detached.reply, Array("OK".utf8))
        XCTAssertTrue(target.resumes.last!.breakpoints.isEmpty)
        let killed = session.handle(Array("k".utf8))
        XCTAssertNil(killed.reply)
        XCTAssertEqual(killed.next, .killed)
        XCTAssertEqual(session.handle(Array("vKill;1".utf8)).next, .killed)
    }

    func testUnknownAndMalformedPacketsGetAnAnswerNeverATrap() {
        XCTAssertEqual(ask("vMustReplyEmpty"), "")
        XCTAssertEqual(ask("qTStatus"), "")
        XCTAssertEqual(ask(""), "")
        XCTAssertEqual(ask("!"), "")
        let seed = UInt64(ProcessInfo.processInfo.environment["GDB_FUZZ_SEED"] ?? "") ?? UInt64.random(in: 0...UInt64.max)
        print("GDBSessionTests random seed: \(seed) (set GDB_FUZZ_SEED to repeat)")
        var generator = SplitMix64(seed: seed)
        let starts = ["g", "G", "p", "P", "m", "M", "X", "Z", "z", "H", "T", "q", "Q", "v", "vCont;", "qXfer:features:read:target.xml:",
                      "qRcmd,", "c", "s", "C", "S", "?"]
        let alphabet = Array("0123456789abcdefxX,:;=-".utf8) + [0x00, 0xff, 0x7d]
        for _ in 0..<20_000 {
            var packet = Array(starts[Int(generator.next() % UInt64(starts.count))].utf8)
            for _ in 0..<Int(generator.next() % 40) { packet.append(alphabet[Int(generator.next() % UInt64(alphabet.count))]) }
            _ = session.handle(packet)
        }
    }
}
