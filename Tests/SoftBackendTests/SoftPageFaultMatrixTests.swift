import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// #PF error codes and CR2 in 32-bit paging and PAE paging (SDM vol. 3, 4.3, 4.4, 4.6 and 4.7), for
/// every combination of P, R/W, U/S and XD at each level, reads, writes and fetches from CPL 0 and
/// CPL 3, CR0.WP and EFER.NXE; reserved bits per MAXPHYADDR and the PS rules. The 4-level cases are
/// SoftFaultDetailTests and the sys_paging guests. vmm offers neither SMEP, SMAP nor protection keys
/// (CPUID.7 EBX/ECX), so CR4 refuses them and no error code has PK set.
final class SoftPageFaultMatrixTests: XCTestCase {
    enum Kind: CaseIterable { case read, write, fetch }

    /// One walk: the entries from the top (the PDPTE only under PAE), whether the directory entry maps
    /// a large page (PS), the access and the controls.
    struct Walk: CustomStringConvertible {
        var pae: Bool, nxe = false, pse = true, wp = true
        var pdpte: UInt64 = 1
        var pde: UInt64, pte: UInt64 = 0, large = false
        var kind: Kind, user = false

        var description: String {
            String(format: "%@ nxe=%d pse=%d wp=%d pdpte=%llx pde=%llx%@ pte=%llx %@ %@", pae ? "PAE" : "32-bit", nxe ? 1 : 0,
                   pse ? 1 : 0, wp ? 1 : 0, pdpte, pde, large ? "(PS)" : "", pte, "\(kind)", user ? "user" : "supervisor")
        }
    }

    static let p: UInt64 = 1, rw: UInt64 = 2, us: UInt64 = 4, ps: UInt64 = 0x80, xd: UInt64 = 1 << 63
    /// Linear address of the byte under test, and the frame behind it (two NOPs at that offset).
    static let frame: UInt64 = 0x40_0000, offset: UInt64 = 0x10
    static let directory: UInt64 = 0x80_0000, identityDirectory: UInt64 = 0x81_0000, identityTable: UInt64 = 0x82_0000
    static let testTable: UInt64 = 0x83_0000, testDirectory: UInt64 = 0x84_0000
    static let maxPhysicalBits = UInt64(CPUIDModel.softCPU.physicalAddressBits)

    static func linear(_ walk: Walk) -> UInt64 { (walk.pae ? 0x4000_0000 : 0x40_0000) + offset }

    // MARK: The rules, as SDM vol. 3, 4.7 states them

    /// Bits that must be zero in an entry, and so give RSVD when set in a present one.
    static func reservedBits(_ walk: Walk, level: Int) -> UInt64 {
        let aboveMAXPHYADDR: UInt64 = 0x7fff_ffff_ffff_f000 & ~((1 << maxPhysicalBits) - 1) // PAE: 62:MAXPHYADDR (table 4-8..4-11)
        let noExecute: UInt64 = walk.nxe ? 0 : xd
        guard walk.pae else {
            // 32-bit paging: only a 4 MiB PDE has reserved bits, bit 21 and PSE-36 address bits past
            // MAXPHYADDR (table 4-4); MAXPHYADDR 40 leaves bits 20:13 all address bits.
            return level == 2 && walk.large && walk.pse ? 1 << 21 | 0x1f_e000 & ~(((1 << (min(maxPhysicalBits, 40) - 32)) - 1) << 13) : 0
        }
        switch level {
        case 3: return aboveMAXPHYADDR | xd | 0x1e6 // PDPTE: 2:1, 8:5 and 63 (table 4-8)
        case 2: return aboveMAXPHYADDR | noExecute | (walk.large ? 0x1f_e000 : 0) // a 2 MiB PDE: 20:13 (table 4-9)
        default: return aboveMAXPHYADDR | noExecute
        }
    }

    /// The error code the walk gives, or nil when the access is allowed.
    static func expectedErrorCode(_ walk: Walk) -> UInt32? {
        var code: UInt32 = (walk.kind == .write ? 2 : 0) | (walk.user ? 4 : 0)
        // I/D only where an instruction fetch can be refused for itself: PAE with NXE (no SMEP here).
        if walk.kind == .fetch && walk.pae && walk.nxe { code |= 0x10 }
        let largePage = walk.large && (walk.pae || walk.pse)
        var entries: [(entry: UInt64, level: Int)] = walk.pae ? [(walk.pdpte, 3)] : []
        entries.append((walk.pde, 2))
        if !largePage { entries.append((walk.pte, 1)) }
        for (entry, level) in entries {
            // A not-present entry ends the walk, its other bits ignored (P = 0); a reserved bit in a
            // present one ends it too, before anything below is read (RSVD, P = 1).
            guard entry & p != 0 else { return code }
            if entry & reservedBits(walk, level: level) != 0 { return code | 8 | 1 }
        }
        // Access rights (4.6): the PDPTE of PAE paging has none.
        let rights = entries.filter { $0.level < 3 }.map(\.entry)
        let userPage = rights.allSatisfy { $0 & us != 0 }, writable = rights.allSatisfy { $0 & rw != 0 }
        let executable = !walk.nxe || rights.allSatisfy { $0 & xd == 0 }
        let allowed: Bool
        switch walk.kind {
        case .read: allowed = !walk.user || userPage
        case .write: allowed = walk.user ? userPage && writable : writable || !walk.wp
        case .fetch: allowed = (!walk.user || userPage) && executable
        }
        return allowed ? nil : code | 1
    }

    // MARK: Running one walk

    /// read: mov (%ebx),%eax; write: mov %eax,(%ebx); fetch: jmp *%ebx to two NOPs.
    static let code: [UInt8] = [0x8b, 0x03] + [UInt8](repeating: 0x90, count: 14) + [0x89, 0x03]
        + [UInt8](repeating: 0x90, count: 14) + [0xff, 0xe3]

    final class Machine32 {
        let fixture: SoftCPUFixture
        var mode: Bool?
        let kernelCS: SegmentRegister, kernelSS: SegmentRegister

        init() throws {
            fixture = try SoftCPUFixture(.protected32, code: SoftPageFaultMatrixTests.code)
            try fixture.machine.memory.write([UInt8](repeating: 0x90, count: 2), at: frame + offset)
            let system = try fixture.cpu.systemRegisters()
            (kernelCS, kernelSS) = (system.cs, system.ss)
        }

        /// The identity map of the first 4 MiB (32-bit) or 2 MiB (PAE) in 4 KiB user pages, for the code.
        func mapIdentity(pae: Bool) throws {
            guard mode != pae else { return }
            mode = pae
            let memory = fixture.machine.memory
            if pae {
                try memory.write(identityDirectory | p, at: directory)
                try memory.write(identityTable | p | rw | us, at: identityDirectory)
                for page in UInt64(0)..<512 { try memory.write(page << 12 | p | rw | us, at: identityTable + page * 8) }
            } else {
                try memory.write(UInt32(identityTable | p | rw | us), at: directory)
                for page in UInt64(0)..<1024 { try memory.write(UInt32(page << 12 | p | rw | us), at: identityTable + page * 4) }
            }
        }

        func run(_ walk: Walk) throws -> (outcome: SoftStepOutcome, cr2: UInt64, rip: UInt64) {
            try mapIdentity(pae: walk.pae)
            let memory = fixture.machine.memory
            // Without CR4.PSE a 32-bit PDE's PS bit is ignored: it points at the page table anyway.
            let pde = walk.pde | (walk.large && (walk.pae || walk.pse) ? frame : testTable) | (walk.large ? ps : 0)
            let pte = walk.pte | frame
            if walk.pae {
                try memory.write(walk.pdpte | testDirectory, at: directory + 8)
                try memory.write(pde, at: testDirectory)
                try memory.write(pte, at: testTable)
            } else {
                try memory.write(UInt32(truncatingIfNeeded: pde), at: directory + 4)
                try memory.write(UInt32(truncatingIfNeeded: pte), at: testTable)
            }
            try fixture.setSystemRegisters {
                $0.cr0 = ControlBits.cr0PE | ControlBits.cr0ET | ControlBits.cr0PG | (walk.wp ? ControlBits.cr0WP : 0)
                $0.cr4 = (walk.pae ? ControlBits.cr4PAE : 0) | (walk.pse ? 1 << 4 : 0)
                $0.efer = walk.nxe ? ControlBits.eferNXE : 0
                $0.cr3 = directory
                $0.cr2 = 0
                $0.cs = kernelCS
                $0.ss = kernelSS
                if walk.user {
                    $0.cs.selector |= 3
                    $0.cs.dpl = 3
                    $0.ss.selector |= 3
                    $0.ss.dpl = 3
                }
            }
            let start: UInt64 = walk.kind == .read ? 0 : walk.kind == .write ? 0x10 : 0x20
            try fixture.setRegisters {
                $0.rip = SoftCPUFixture.codeAddress + start
                $0.rbx = SoftPageFaultMatrixTests.linear(walk)
            }
            let outcome = try fixture.cpu.step(instructions: walk.kind == .fetch ? 2 : 1)
            return (outcome, try fixture.cpu.systemRegisters().cr2, try fixture.cpu.generalRegisters().rip)
        }
    }

    /// Runs each walk and compares with `expected` (by default the rules above): the error code, CR2
    /// on a fault, and on success that the access completed (a fetch ran the NOP it reached).
    func check(_ walks: [Walk], expected: (Walk) -> UInt32? = SoftPageFaultMatrixTests.expectedErrorCode,
               file: StaticString = #filePath, line: UInt = #line) throws {
        let machine = try Machine32()
        var failures = 0
        for walk in walks {
            let result = try machine.run(walk)
            let want = expected(walk)
            let outcomeWanted: SoftStepOutcome = want.map { .exception(vector: 14, errorCode: $0) } ?? .completed
            var wrong = result.outcome != outcomeWanted
            if want != nil { wrong = wrong || result.cr2 != Self.linear(walk) }
            if want == nil && walk.kind == .fetch { wrong = wrong || result.rip != Self.linear(walk) + 1 }
            if wrong {
                failures += 1
                if failures <= 20 {
                    XCTFail("\(walk): got \(result.outcome) cr2=\(String(result.cr2, radix: 16)), expected \(outcomeWanted)",
                            file: file, line: line)
                }
            }
        }
        XCTAssertEqual(failures, 0, "of \(walks.count) walks", file: file, line: line)
    }

    /// Every combination of `bits` in a PDE and a PTE (each with P or not), per access, CPL and CR0.WP.
    func matrix(pae: Bool, nxe: Bool, bits: [UInt64]) -> [Walk] {
        let flagSets = (0..<(1 << bits.count)).map { mask in
            bits.enumerated().reduce(UInt64(0)) { mask >> $1.offset & 1 != 0 ? $0 | $1.element : $0 }
        }
        var walks: [Walk] = []
        for kind in Kind.allCases {
            for user in [false, true] {
                for wp in [false, true] {
                    for pde in flagSets {
                        walks.append(Walk(pae: pae, nxe: nxe, wp: wp, pde: pde, large: true, kind: kind, user: user))
                        for pte in flagSets {
                            walks.append(Walk(pae: pae, nxe: nxe, wp: wp, pde: pde, pte: pte, kind: kind, user: user))
                        }
                    }
                }
            }
        }
        return walks
    }

    // MARK: Tests

    func testEveryCombinationIn32BitPaging() throws {
        try check(matrix(pae: false, nxe: false, bits: [Self.p, Self.rw, Self.us]))
    }

    func testEveryCombinationInPAEPagingWithNXE() throws {
        try check(matrix(pae: true, nxe: true, bits: [Self.p, Self.rw, Self.us, Self.xd]))
    }

    func testEveryCombinationInPAEPagingWithoutNXE() throws {
        // XD is then a reserved bit of PDEs and PTEs (SDM vol. 3, table 4-9 to 4-11).
        try check(matrix(pae: true, nxe: false, bits: [Self.p, Self.rw, Self.us, Self.xd]))
    }

    /// Each bit outside the address field, alone, in each entry of the walk (P kept set), per access
    /// and EFER.NXE: flags, ignored bits, and the reserved ones from MAXPHYADDR up.
    func testEachBitOfEachEntry() throws {
        let all = Self.p | Self.rw | Self.us
        let wide = Array(1..<12) + Array(Self.maxPhysicalBits..<64)
        var walks: [Walk] = []
        for kind in Kind.allCases {
            for user in [false, true] {
                for bit in [UInt64](Array(1..<12) + [21]) {
                    walks.append(Walk(pae: false, pde: all | 1 << bit, large: true, kind: kind, user: user))
                    guard bit < 12 else { continue }
                    if bit != 7 { walks.append(Walk(pae: false, pde: all | 1 << bit, pte: all, kind: kind, user: user)) }
                    walks.append(Walk(pae: false, pde: all, pte: all | 1 << bit, kind: kind, user: user))
                }
                for nxe in [false, true] {
                    for bit in wide + Array(12..<21) {
                        walks.append(Walk(pae: true, nxe: nxe, pde: all | 1 << bit, large: true, kind: kind, user: user))
                    }
                    for bit in wide {
                        walks.append(Walk(pae: true, nxe: nxe, pdpte: Self.p | 1 << bit, pde: all, pte: all, kind: kind, user: user))
                        if bit != 7 { walks.append(Walk(pae: true, nxe: nxe, pde: all | 1 << bit, pte: all, kind: kind, user: user)) }
                        walks.append(Walk(pae: true, nxe: nxe, pde: all, pte: all | 1 << bit, kind: kind, user: user))
                    }
                }
            }
        }
        try check(walks)
    }

    /// Written out by hand from the manual, not from the rules above: each the error code an SDM
    /// reader expects, so a shared mistake in the rules and the walk cannot hide.
    func testNamedCasesGiveTheManualsErrorCodes() throws {
        let (p, rw, us, xd) = (Self.p, Self.rw, Self.us, Self.xd)
        let all = p | rw | us
        let rows: [(Walk, UInt32?)] = [
            (Walk(pae: false, pde: all, pte: rw | us, kind: .read), 0x0),
            (Walk(pae: false, pde: all, pte: rw | us, kind: .fetch, user: true), 0x4), // no I/D in 32-bit paging
            (Walk(pae: false, pde: all, pte: p | us, kind: .write, user: true), 0x7),
            (Walk(pae: false, pde: all, pte: p | us, kind: .write), 0x3),
            (Walk(pae: false, wp: false, pde: all, pte: p | us, kind: .write), nil),
            (Walk(pae: false, wp: false, pde: all, pte: p | us, kind: .write, user: true), 0x7), // WP is for CPL < 3
            (Walk(pae: false, pde: p | rw, pte: all, kind: .read, user: true), 0x5),
            (Walk(pae: false, pde: all | 1 << 21, large: true, kind: .read), 0x9), // 4 MiB PDE bit 21
            (Walk(pae: false, pde: all | 1 << 13, large: true, kind: .read), nil), // PSE-36: physical bit 32
            (Walk(pae: false, pse: false, pde: all, pte: all, large: true, kind: .read), nil), // PS ignored without PSE
            (Walk(pae: false, pse: false, pde: all, pte: rw | us, large: true, kind: .read), 0x0), // ... so the PTE counts
            (Walk(pae: true, nxe: true, pde: all, pte: all | xd, kind: .fetch), 0x11),
            (Walk(pae: true, nxe: true, pde: all | xd, pte: all, kind: .fetch, user: true), 0x15),
            (Walk(pae: true, nxe: true, pde: all, pte: all, kind: .fetch), nil),
            (Walk(pae: true, nxe: true, pde: all, pte: rw | us, kind: .fetch), 0x10), // I/D with P = 0
            (Walk(pae: true, nxe: true, pde: all, pte: all | xd, kind: .read), nil),
            (Walk(pae: true, pde: all, pte: all | xd, kind: .read), 0x9), // XD reserved without NXE
            (Walk(pae: true, pde: all | xd, pte: all, kind: .write, user: true), 0xf),
            (Walk(pae: true, pde: all, pte: all | xd, kind: .fetch), 0x9), // no I/D without NXE
            (Walk(pae: true, nxe: true, pde: all, pte: all | 1 << 62, kind: .read), 0x9),
            (Walk(pae: true, nxe: true, pde: all, pte: all | 1 << Self.maxPhysicalBits, kind: .write), 0xb),
            (Walk(pae: true, nxe: true, pde: all, pte: all | 1 << (Self.maxPhysicalBits - 1), kind: .read), nil),
            (Walk(pae: true, nxe: true, pde: all | 1 << 13, large: true, kind: .read), 0x9), // 2 MiB PDE bits 20:13
            (Walk(pae: true, nxe: true, pde: all | 1 << 12, large: true, kind: .read), nil), // PAT
            (Walk(pae: true, nxe: true, pdpte: p | rw, pde: all, pte: all, kind: .read), 0x9), // PDPTE R/W is reserved
            (Walk(pae: true, nxe: true, pdpte: p | xd, pde: all, pte: all, kind: .read), 0x9), // PDPTE bit 63 too
            (Walk(pae: true, nxe: true, pdpte: rw | xd, pde: all, pte: all, kind: .read), 0x0), // ignored when not present
            (Walk(pae: true, nxe: true, pde: all | 1 << 62, pte: rw, kind: .read), 0x9), // stops before the absent PTE
            (Walk(pae: true, nxe: true, pde: rw | us | 1 << 62, pte: all, kind: .read), 0x0),
            (Walk(pae: true, nxe: true, pde: p | rw, pte: all | 1 << 62, kind: .read, user: true), 0xd), // RSVD before rights
        ]
        for (walk, code) in rows { try check([walk], expected: { _ in code }) }
    }

    func testCR4RefusesSMEPSMAPAndProtectionKeysWhichCPUIDDoesNotOffer() throws {
        let model = CPUIDModel.softCPU
        XCTAssertEqual(model.leaf7EBX & (1 << 7 | 1 << 20), 0, "SMEP, SMAP")
        XCTAssertEqual(model.leaf7ECX & (1 << 3), 0, "PKU")
        for bit: UInt32 in [20, 21, 22] {
            // mov %cr4,%eax; or $bit,%eax; mov %eax,%cr4
            let cpu = try SoftCPUFixture(.protected32, code: [0x0f, 0x20, 0xe0, 0x0d] + withUnsafeBytes(of: (UInt32(1) << bit).littleEndian) { Array($0) }
                                         + [0x0f, 0x22, 0xe0])
            try cpu.step(2)
            XCTAssertEqual(try cpu.cpu.step(instructions: 1), .exception(vector: 13, errorCode: 0), "CR4 bit \(bit)")
        }
    }
}
