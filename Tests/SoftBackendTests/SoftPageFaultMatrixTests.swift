import Foundation
import SoftBackend
import VMMKit
import XCTest
import KernelLoading

/// #PF error codes and CR2 in 32-bit, PAE and 4-level paging (SDM vol. 3, 4.3-4.7): every
/// combination of P, R/W, U/S and XD at each level, reads, writes and fetches from CPL 0 and CPL 3,
/// CR0.WP and EFER.NXE; each bit of each entry alone, so reserved bits per MAXPHYADDR and the PS
/// rules; rows written out by hand from the manual. vmm offers neither SMEP, SMAP nor protection
/// keys (CPUID.7 EBX/ECX), so CR4 refuses them and no error code has PK set.
final class SoftPageFaultMatrixTests: XCTestCase {
    enum Kind: CaseIterable { case read, write, fetch }
    enum Paging: CaseIterable {
        case bits32, pae, long
        /// Entries in a walk to a 4 KiB page: PDE, PTE / PDPTE, PDE, PTE / PML4E, PDPTE, PDE, PTE.
        var depth: Int { self == .bits32 ? 2 : self == .pae ? 3 : 4 }
    }

    /// One walk: the entries' flags from the top (the runner adds the addresses); fewer entries than
    /// the mode's depth end in a large page at the last one (PS). Then the access and the controls.
    struct Walk: CustomStringConvertible {
        var paging: Paging, nxe = false, pse = true, wp = true
        var entries: [UInt64]
        var kind: Kind, user = false

        /// Paging-structure level of entry `index`: 1 for a PTE up to 4 for a PML4E.
        func level(_ index: Int) -> Int { paging.depth - index }
        var large: Bool { entries.count < paging.depth }

        var description: String {
            "\(paging) nxe=\(nxe ? 1 : 0) pse=\(pse ? 1 : 0) wp=\(wp ? 1 : 0) entries="
                + entries.map { String($0, radix: 16) }.joined(separator: ",") + (large ? " (PS)" : "")
                + " \(kind) \(user ? "user" : "supervisor")"
        }
    }

    static let p: UInt64 = 1, rw: UInt64 = 2, us: UInt64 = 4, ps: UInt64 = 0x80, xd: UInt64 = 1 << 63
    static let all = p | rw | us
    static let maxPhysicalBits = UInt64(CPUIDModel.softCPU.physicalAddressBits)
    static let isAMD = CPUIDModel.softCPU.vendor == "AuthenticAMD"

    // MARK: The rules, as SDM vol. 3, 4.7 states them

    /// Bits that must be zero in an entry, and so give RSVD when set in a present one.
    static func reservedBits(_ walk: Walk, index: Int) -> UInt64 {
        let level = walk.level(index), large = walk.large && index == walk.entries.count - 1
        let noExecute: UInt64 = walk.nxe ? 0 : xd
        // The bits of a large page's frame below its alignment, PAT (bit 12) apart: 20:13 or 29:13.
        let largeLow: UInt64 = !large ? 0 : level == 3 ? 0x3fff_e000 : 0x1f_e000
        switch walk.paging {
        case .bits32:
            // Only a 4 MiB PDE has reserved bits: bit 21 and PSE-36 address bits past MAXPHYADDR
            // (table 4-4); MAXPHYADDR 40 leaves bits 20:13 all address bits.
            return large && walk.pse ? 1 << 21 | 0x1f_e000 & ~(((1 << (min(maxPhysicalBits, 40) - 32)) - 1) << 13) : 0
        case .pae:
            let aboveMAXPHYADDR: UInt64 = 0x7fff_ffff_ffff_f000 & ~((1 << maxPhysicalBits) - 1) // 62:M (tables 4-8..4-11)
            // A PDPTE also reserves 2:1, 8:5 and 63 (table 4-8).
            return level == 3 ? aboveMAXPHYADDR | xd | 0x1e6 : aboveMAXPHYADDR | noExecute | largeLow
        case .long:
            let aboveMAXPHYADDR: UInt64 = 0x000f_ffff_ffff_f000 & ~((1 << maxPhysicalBits) - 1) // 51:M (tables 4-14..4-20)
            // PS is reserved in a PML4E (table 4-15); AMD processors reserve bit 8 there too (APM
            // vol. 2, figure 5-18: bits 8:7 MBZ), where Intel's ignore it.
            return aboveMAXPHYADDR | noExecute | largeLow | (level == 4 ? ps | (isAMD ? 0x100 : 0) : 0)
        }
    }

    /// The error code the walk gives, or nil when the access is allowed.
    static func expectedErrorCode(_ walk: Walk) -> UInt32? {
        var code: UInt32 = (walk.kind == .write ? 2 : 0) | (walk.user ? 4 : 0)
        // I/D only where an instruction fetch can be refused for itself: NXE with PAE or 4-level
        // paging (no SMEP here).
        if walk.kind == .fetch && walk.paging != .bits32 && walk.nxe { code |= 0x10 }
        for (index, entry) in walk.entries.enumerated() {
            // A not-present entry ends the walk, its other bits ignored (P = 0); a reserved bit in a
            // present one ends it too, before anything below is read (RSVD, P = 1).
            guard entry & p != 0 else { return code }
            if entry & reservedBits(walk, index: index) != 0 { return code | 8 | 1 }
        }
        // Access rights (4.6): the PDPTE of PAE paging has none.
        let rights = walk.entries.enumerated().filter { walk.paging != .pae || walk.level($0.offset) < 3 }.map(\.element)
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

    /// read: mov (%rbx),%eax; write: mov %eax,(%rbx); fetch: jmp *%rbx to two NOPs (one encoding
    /// in 32-bit and 64-bit code).
    static let code: [UInt8] = [0x8b, 0x03] + [UInt8](repeating: 0x90, count: 14) + [0x89, 0x03]
        + [UInt8](repeating: 0x90, count: 14) + [0xff, 0xe3]
    static let offset: UInt64 = 0x10
    static let root: UInt64 = 0x80_0000, identityDirectory: UInt64 = 0x81_0000, identityTable: UInt64 = 0x82_0000
    static let identityPointers: UInt64 = 0x85_0000
    /// The test walk's tables below the root, from the top: PDPT, directory, page table.
    static let testTables: [UInt64] = [0x86_0000, 0x84_0000, 0x83_0000]

    /// The linear address under test: PDE 1 (32-bit), PDPTE 1 (PAE), PML4E 1 (4-level).
    static func linear(_ paging: Paging) -> UInt64 {
        (paging == .bits32 ? 0x40_0000 : paging == .pae ? 0x4000_0000 : 0x80_0000_0000) + offset
    }

    /// The frame behind the test page: 4 MiB, 2 MiB and 4 KiB pages use 0x400000; a 1 GiB page
    /// needs 1 GiB alignment and uses 0 (the bytes at 0x10 are spare: RSP1 of the boot TSS).
    static func frame(_ walk: Walk) -> UInt64 { walk.large && walk.level(walk.entries.count - 1) == 3 ? 0 : 0x40_0000 }

    final class Runner {
        let fixture: SoftCPUFixture
        let paging: Paging
        let kernelCS: SegmentRegister, kernelSS: SegmentRegister

        /// A vCPU in 32-bit protected mode or long mode, with the first 2 MiB (4 MiB in 32-bit
        /// paging) identity-mapped in 4 KiB user pages for the code, stack and boot structures.
        init(_ paging: Paging) throws {
            self.paging = paging
            fixture = try SoftCPUFixture(paging == .long ? .long64 : .protected32, code: SoftPageFaultMatrixTests.code)
            let memory = fixture.machine.memory
            for frame: UInt64 in [0, 0x40_0000] { try memory.write([UInt8](repeating: 0x90, count: 2), at: frame + offset) }
            switch paging {
            case .bits32:
                try memory.write(UInt32(identityTable | all), at: root)
                for page in UInt64(0)..<1024 { try memory.write(UInt32(page << 12 | all), at: identityTable + page * 4) }
            case .pae, .long:
                if paging == .long {
                    try memory.write(identityPointers | all, at: root)
                    try memory.write(identityDirectory | all, at: identityPointers)
                } else {
                    try memory.write(identityDirectory | p, at: root)
                }
                try memory.write(identityTable | all, at: identityDirectory)
                for page in UInt64(0)..<512 { try memory.write(page << 12 | all, at: identityTable + page * 8) }
            }
            let system = try fixture.cpu.systemRegisters()
            (kernelCS, kernelSS) = (system.cs, system.ss)
        }

        func run(_ walk: Walk) throws -> (outcome: SoftStepOutcome, cr2: UInt64, rip: UInt64) {
            let memory = fixture.machine.memory
            let wide = paging != .bits32
            // Entry i sits at index 1 of the root (the test address's top index) or index 0 of the
            // test table below it, and points at the next table, or at the frame when it is the last.
            let tables = Array(SoftPageFaultMatrixTests.testTables.suffix(paging.depth - 1))
            for (index, flags) in walk.entries.enumerated() {
                let address = index == 0 ? root + (wide ? 8 : 4) : tables[index - 1]
                let last = index == walk.entries.count - 1
                // Without CR4.PSE a 32-bit PDE's PS bit is ignored: it still points at a page table.
                let pointsAtFrame = last && (walk.level(index) == 1 || paging != .bits32 || walk.pse)
                let target = pointsAtFrame ? SoftPageFaultMatrixTests.frame(walk) : tables[index]
                let entry = flags | target | (last && walk.large ? ps : 0)
                if wide { try memory.write(entry, at: address) } else { try memory.write(UInt32(truncatingIfNeeded: entry), at: address) }
            }
            if paging == .bits32 && walk.large && !walk.pse { try memory.write(UInt32(0x40_0000 | all), at: tables[0]) }
            try fixture.setSystemRegisters {
                $0.cr0 = ControlBits.cr0PE | ControlBits.cr0ET | ControlBits.cr0PG | (walk.wp ? ControlBits.cr0WP : 0)
                $0.cr4 = (paging != .bits32 ? ControlBits.cr4PAE : 0) | (walk.pse ? 1 << 4 : 0)
                $0.efer = (walk.nxe ? ControlBits.eferNXE : 0) | (paging == .long ? ControlBits.eferLME | ControlBits.eferLMA : 0)
                $0.cr3 = root
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
                $0.rbx = SoftPageFaultMatrixTests.linear(walk.paging)
                $0.rax = 0x9090 // what a write leaves in the frame: the NOPs a fetch runs
            }
            let outcome = try fixture.cpu.step(instructions: walk.kind == .fetch ? 2 : 1)
            return (outcome, try fixture.cpu.systemRegisters().cr2, try fixture.cpu.generalRegisters().rip)
        }
    }

    /// Runs each walk and compares with `expected` (by default the rules above): the error code, CR2
    /// on a fault, and on success that the access completed (a fetch ran the NOP it reached).
    func check(_ walks: [Walk], expected: (Walk) -> UInt32? = SoftPageFaultMatrixTests.expectedErrorCode,
               file: StaticString = #filePath, line: UInt = #line) throws {
        var runners: [Paging: Runner] = [:]
        var failures = 0
        for walk in walks {
            let runner = try runners[walk.paging] ?? Runner(walk.paging)
            runners[walk.paging] = runner
            let result = try runner.run(walk)
            let want = expected(walk)
            let outcomeWanted: SoftStepOutcome = want.map { .exception(vector: 14, errorCode: $0) } ?? .completed
            let linear = Self.linear(walk.paging)
            let wrong = result.outcome != outcomeWanted || (want != nil && result.cr2 != linear)
                || (want == nil && walk.kind == .fetch && result.rip != linear + 1)
            guard wrong else { continue }
            failures += 1
            if failures <= 20 {
                XCTFail("\(walk): got \(result.outcome) cr2=\(String(result.cr2, radix: 16)), expected \(outcomeWanted)",
                        file: file, line: line)
            }
        }
        XCTAssertEqual(failures, 0, "of \(walks.count) walks", file: file, line: line)
    }

    static let flagBits = [p, rw, us, xd]

    /// Every set of `flagBits` in one entry, the others full (P, R/W, U/S), at each level and with
    /// each page size, per access, CPL, CR0.WP and EFER.NXE.
    func matrix(_ paging: Paging, bits: [UInt64] = SoftPageFaultMatrixTests.flagBits) -> [Walk] {
        let flagSets = (0..<(1 << bits.count)).map { mask in
            bits.enumerated().reduce(UInt64(0)) { mask >> $1.offset & 1 != 0 ? $0 | $1.element : $0 }
        }
        // Walks to a 4 KiB page and to each large page the mode has: 4 MiB / 2 MiB at the
        // directory, 1 GiB at the 4-level PDPT.
        let lengths = paging == .long ? [4, 3, 2] : paging == .pae ? [3, 2] : [2, 1]
        var walks: [Walk] = []
        for kind in Kind.allCases {
            for user in [false, true] {
                for wp in [false, true] {
                    for nxe in paging == .bits32 ? [false] : [false, true] {
                        for length in lengths {
                            for varied in 0..<length {
                                for flags in flagSets {
                                    var entries = [UInt64](repeating: Self.all, count: length)
                                    entries[varied] = flags
                                    walks.append(Walk(paging: paging, nxe: nxe, wp: wp, entries: entries, kind: kind, user: user))
                                }
                            }
                        }
                    }
                }
            }
        }
        return walks
    }

    /// Random flag sets in every entry at once: the combinations across levels the matrix leaves out.
    /// SOFT_PAGING_SEED picks the cases; the seed is printed.
    func randomWalks(_ count: Int) -> [Walk] {
        let seed = ProcessInfo.processInfo.environment["SOFT_PAGING_SEED"].flatMap { UInt64($0) } ?? 0x5eed_0014
        print("SoftPageFaultMatrixTests random walks: seed \(seed) (SOFT_PAGING_SEED)")
        var random = SeededGenerator(seed: seed)
        return (0..<count).map { _ in
            let paging = random.pick(Paging.allCases)
            let length = paging.depth - (random.chance(0.3) ? (paging == .long ? 1 + random.below(2) : 1) : 0)
            let entries = (0..<length).map { _ in Self.flagBits.reduce(UInt64(0)) { random.chance(0.8) ? $0 | $1 : $0 } }
            return Walk(paging: paging, nxe: paging != .bits32 && random.chance(0.5), wp: random.chance(0.5), entries: entries,
                        kind: random.pick(Kind.allCases), user: random.chance(0.5))
        }
    }

    // MARK: Tests

    func testEveryCombinationIn32BitPaging() throws {
        try check(matrix(.bits32, bits: [Self.p, Self.rw, Self.us]))
    }

    func testEveryCombinationInPAEPaging() throws {
        try check(matrix(.pae))
    }

    func testEveryCombinationIn4LevelPaging() throws {
        try check(matrix(.long))
    }

    func testRandomCombinationsAcrossLevels() throws {
        try check(randomWalks(6000))
    }

    /// Each bit outside the address field, alone, in each entry of the walk (P kept set), per access,
    /// CPL and EFER.NXE: flags, ignored bits, and the reserved ones from MAXPHYADDR up.
    func testEachBitOfEachEntry() throws {
        var walks: [Walk] = []
        for paging in Paging.allCases {
            let high = paging == .bits32 ? [] : Array(Self.maxPhysicalBits..<64)
            for length in paging == .long ? [4, 3, 2] : [paging.depth, paging.depth - 1] {
                for index in 0..<length {
                    let level = paging.depth - index, large = index == length - 1 && length < paging.depth
                    // PS itself is the walk's shape (the runner sets it), except where it is a PAT bit
                    // (a PTE) or reserved (a PML4E, a PAE PDPTE); a large page adds its low frame bits.
                    var bits = Array(UInt64(1)..<12).filter { $0 != 7 || level == 1 || level == 4 || (paging == .pae && level == 3) }
                    bits += high
                    if large { bits += paging == .bits32 ? [12, 21] : Array(12..<(level == 3 ? 30 : 21)) }
                    for bit in bits {
                        for kind in Kind.allCases {
                            for user in [false, true] {
                                for nxe in paging == .bits32 ? [false] : [false, true] {
                                    var entries = [UInt64](repeating: Self.all, count: length)
                                    entries[index] |= 1 << bit
                                    walks.append(Walk(paging: paging, nxe: nxe, entries: entries, kind: kind, user: user))
                                }
                            }
                        }
                    }
                }
            }
        }
        try check(walks)
    }

    /// Written out by hand from the manual, not from the rules above: each the error code an SDM
    /// reader expects, so a shared mistake in the rules and the walk cannot hide.
    func testNamedCasesGiveTheManualsErrorCodes() throws {
        let (p, rw, us, xd, all) = (Self.p, Self.rw, Self.us, Self.xd, Self.all)
        let maxPhysical = Self.maxPhysicalBits
        let rows: [(Walk, UInt32?)] = [
            (Walk(paging: .bits32, entries: [all, rw | us], kind: .read), 0x0),
            (Walk(paging: .bits32, entries: [all, rw | us], kind: .fetch, user: true), 0x4), // no I/D in 32-bit paging
            (Walk(paging: .bits32, entries: [all, p | us], kind: .write, user: true), 0x7),
            (Walk(paging: .bits32, entries: [all, p | us], kind: .write), 0x3),
            (Walk(paging: .bits32, wp: false, entries: [all, p | us], kind: .write), nil),
            (Walk(paging: .bits32, wp: false, entries: [all, p | us], kind: .write, user: true), 0x7), // WP is for CPL < 3
            (Walk(paging: .bits32, entries: [p | rw, all], kind: .read, user: true), 0x5),
            (Walk(paging: .bits32, entries: [all | 1 << 21], kind: .read), 0x9), // 4 MiB PDE bit 21
            (Walk(paging: .bits32, entries: [all | 1 << 13], kind: .read), nil), // PSE-36: physical bit 32
            (Walk(paging: .bits32, pse: false, entries: [all], kind: .read), nil), // PS ignored without PSE
            (Walk(paging: .pae, nxe: true, entries: [p, all, all | xd], kind: .fetch), 0x11),
            (Walk(paging: .pae, nxe: true, entries: [p, all | xd, all], kind: .fetch, user: true), 0x15),
            (Walk(paging: .pae, nxe: true, entries: [p, all, all], kind: .fetch), nil),
            (Walk(paging: .pae, nxe: true, entries: [p, all, rw | us], kind: .fetch), 0x10), // I/D with P = 0
            (Walk(paging: .pae, nxe: true, entries: [p, all, all | xd], kind: .read), nil),
            (Walk(paging: .pae, entries: [p, all, all | xd], kind: .read), 0x9), // XD reserved without NXE
            (Walk(paging: .pae, entries: [p, all | xd, all], kind: .write, user: true), 0xf),
            (Walk(paging: .pae, entries: [p, all, all | xd], kind: .fetch), 0x9), // no I/D without NXE
            (Walk(paging: .pae, nxe: true, entries: [p, all, all | 1 << 62], kind: .read), 0x9),
            (Walk(paging: .pae, nxe: true, entries: [p, all, all | 1 << maxPhysical], kind: .write), 0xb),
            (Walk(paging: .pae, nxe: true, entries: [p, all, all | 1 << (maxPhysical - 1)], kind: .read), nil),
            (Walk(paging: .pae, nxe: true, entries: [p, all | 1 << 13], kind: .read), 0x9), // 2 MiB PDE bits 20:13
            (Walk(paging: .pae, nxe: true, entries: [p, all | 1 << 12], kind: .read), nil), // PAT
            (Walk(paging: .pae, nxe: true, entries: [p | rw, all, all], kind: .read), 0x9), // PDPTE R/W is reserved
            (Walk(paging: .pae, nxe: true, entries: [p | xd, all, all], kind: .read), 0x9), // PDPTE bit 63 too
            (Walk(paging: .pae, nxe: true, entries: [rw | xd, all, all], kind: .read), 0x0), // ignored when not present
            (Walk(paging: .pae, nxe: true, entries: [p, all | 1 << 62, rw], kind: .read), 0x9), // stops before the absent PTE
            (Walk(paging: .pae, nxe: true, entries: [p, rw | us | 1 << 62, all], kind: .read), 0x0),
            (Walk(paging: .pae, nxe: true, entries: [p, p | rw, all | 1 << 62], kind: .read, user: true), 0xd), // RSVD before rights
            (Walk(paging: .long, nxe: true, entries: [p | rw, all, all, all], kind: .read, user: true), 0x5), // PML4E U/S
            (Walk(paging: .long, nxe: true, entries: [all, all | xd, all, all], kind: .fetch), 0x11), // PDPTE XD
            (Walk(paging: .long, nxe: true, entries: [all, all, all, all | 1 << 62], kind: .read), nil), // ignored in 4-level
            (Walk(paging: .long, nxe: true, entries: [all, all, all, all | 1 << 51], kind: .read), 0x9),
            (Walk(paging: .long, entries: [all, all, all | xd, all], kind: .read), 0x9), // XD reserved without NXE
            (Walk(paging: .long, nxe: true, entries: [all | Self.ps, all, all, all], kind: .read), 0x9), // PML4E PS
            (Walk(paging: .long, nxe: true, entries: [all, all | 1 << 13], kind: .read), 0x9), // 1 GiB PDPTE bits 29:13
            (Walk(paging: .long, nxe: true, entries: [all, p | us], kind: .write, user: true), 0x7), // 1 GiB page
            (Walk(paging: .long, nxe: true, entries: [all, all, rw | us], kind: .fetch, user: true), 0x14),
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
