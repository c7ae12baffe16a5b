import Foundation
import TestSupport
import XCTest

/// The xen-hvm device as guests find it (xen-hvm64 in long mode, xen-hvm32 in 32-bit protected
/// mode; Tests/Guests/pv/include/xen_hvm.h): Xen's leaves at 0x40000000 and KVM's moved to
/// 0x40000100 (gone with `--pv none`), each page the MSR loads byte-equal to the blob of the vCPU's
/// mode, #GP and nothing written for an index beyond the blob or a page outside RAM, and every
/// hypercall through the generated page answering -ENOSYS, on Soft through VMCALL and on KVM
/// through the device's ports.
final class XenHVMGuestTests: XCTestCase {
    private static let pageSize = 4096
    private static let soft = ["--backend", "soft"]
    private static let kvm = ["--backend", "kvm"]
    /// The blobs' seeds, one per mode, so a page from the wrong blob cannot pass.
    private static let seed32: UInt32 = 0x1234, seed64: UInt32 = 0xbeef

    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-xen-\(getpid())-\(name.hashValue)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// Byte `offset` of page `page` for `seed`: the guest's xen_blob_byte.
    private static func blobByte(seed: UInt32, page: Int, offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: ((seed &+ UInt32(page * pageSize + offset)) &* 0x9e37_79b1) >> 24)
    }

    /// The blob file for `seed` and its pages' FNV-1a hashes, as the guest prints them.
    private func writeBlob(seed: UInt32, pages: Int) throws -> (path: String, hashes: [String]) {
        var hashes: [String] = []
        var bytes: [UInt8] = []
        for page in 0..<pages {
            let content = (0..<Self.pageSize).map { Self.blobByte(seed: seed, page: page, offset: $0) }
            hashes.append("0x" + String(content.reduce(UInt32(2_166_136_261)) { ($0 ^ UInt32($1)) &* 16_777_619 }, radix: 16))
            bytes += content
        }
        let path = directory.appendingPathComponent("blob-\(seed).bin").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(bytes)))
        return (path, hashes)
    }

    private func run(_ guest: String, backend: [String], device: String = "xen-hvm", pv: String = "all",
                     append: String = "") throws -> ProcessResult {
        let arguments = backend + ["--device", device, "--pv", pv, "--timeout", "100", "--append", append,
                                   try GuestKernels.path(guest)]
        return try EndToEnd.vmm(arguments, timeout: 120)
    }

    /// The "xen: NAME VALUE" lines.
    private func reported(_ output: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("xen: ") {
            let text = line.dropFirst(5)
            // "page N fnv H", "page N equals the blob", "hypercall N returned R, rdx kept": keyed by their first two words.
            let words = text.split(separator: " ", maxSplits: text.hasPrefix("page ") || text.hasPrefix("hypercall ") ? 2 : 1)
            guard words.count >= 2 else { continue }
            let key = words.count == 3 ? "\(words[0]) \(words[1])" : String(words[0])
            let value = String(words.last!)
            values[key] = values[key].map { $0 + "; " + value } ?? value
        }
        return values
    }

    /// A run that ended with the guest's PASS, or, on KVM, at an instruction this host's KVM
    /// cannot run (a 32-bit IRET on PVM, which the #GP handler needs): the lines before it are
    /// checked by the caller, and the rest is reported as the host's limitation.
    private func finished(_ result: ProcessResult) throws -> Bool {
        if result.status == 6 && result.standardError.contains("host KVM limitation") { return false }
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        return true
    }

    private func limitation(_ result: ProcessResult) -> XCTSkip {
        XCTSkip("host KVM limitation after the page checks: " + result.standardError.trimmingCharacters(in: .whitespacesAndNewlines))
    }

    private func checkFaults(_ values: [String: String], _ output: String) {
        XCTAssertEqual(values["index-beyond"], "gp", output)
        XCTAssertEqual(values["index-beyond-untouched"], "yes", output)
        XCTAssertEqual(values["outside-ram"], "gp", output)
    }

    /// The generated page: the leaves, one page, Xen's UD2 at HYPERVISOR_iret, -ENOSYS from
    /// stubs 0, 17 and 127 with RDX kept, a reload over code already run, the refusals. Returns the
    /// run when the host stopped it before the refusals.
    private func checkGeneratedPage(_ guest: String, backend: [String]) throws -> ProcessResult? {
        let result = try run(guest, backend: backend)
        let values = reported(result.standardOutput)
        XCTAssertEqual(values["xen-base"], "0x40000000", result.standardOutput)
        XCTAssertEqual(values["kvm-base"], "0x40000100", result.standardOutput)
        XCTAssertEqual(values["highest-leaf"], "0x40000002")
        XCTAssertEqual(values["version"], "4.0")
        XCTAssertEqual(values["pages"], "1")
        XCTAssertEqual(values["msr"], "0x40000000")
        XCTAssertNotNil(values["page 0"], result.standardOutput)
        XCTAssertEqual(values["iret-stub"], "ud2", result.standardOutput)
        for number in [0, 17, 127] {
            XCTAssertEqual(values["hypercall \(number)"], "returned -38, rdx kept", result.standardOutput + result.standardError)
        }
        // Soft's code cache forgets what it decoded from the page the device wrote.
        XCTAssertEqual(values["reload-over-code"], "7 then -38", result.standardOutput)
        guard try finished(result) else { return result }
        checkFaults(values, result.standardOutput)
        return nil
    }

    /// Both blobs of two pages: the guest's mode picks its blob, each page equal to the file's.
    /// Returns the run when the host stopped it before the refusals.
    private func checkBlobs(_ guest: String, longMode: Bool, backend: [String]) throws -> ProcessResult? {
        let blob32 = try writeBlob(seed: Self.seed32, pages: 2), blob64 = try writeBlob(seed: Self.seed64, pages: 2)
        let mine = longMode ? (Self.seed64, blob64.hashes) : (Self.seed32, blob32.hashes)
        let result = try run(guest, backend: backend, device: "xen-hvm,blob32=\(blob32.path),blob64=\(blob64.path)",
                             append: "seed=\(mine.0)")
        let values = reported(result.standardOutput)
        XCTAssertEqual(values["pages"], "2", result.standardOutput)
        for page in 0..<2 {
            XCTAssertEqual(values["page \(page)"], "fnv \(mine.1[page]); equals the blob", result.standardOutput)
        }
        XCTAssertNil(values["hypercall 0"], "no stubs to call in a test blob")
        guard try finished(result) else { return result }
        checkFaults(values, result.standardOutput)
        return nil
    }

    func testGeneratedPageInLongModeOnSoft() throws {
        XCTAssertNil(try checkGeneratedPage("xen-hvm64", backend: Self.soft))
    }

    func testGeneratedPageIn32BitModeOnSoft() throws {
        XCTAssertNil(try checkGeneratedPage("xen-hvm32", backend: Self.soft))
    }

    func testBlobsInLongModeOnSoft() throws {
        XCTAssertNil(try checkBlobs("xen-hvm64", longMode: true, backend: Self.soft))
    }

    func testBlobsIn32BitModeOnSoft() throws {
        XCTAssertNil(try checkBlobs("xen-hvm32", longMode: false, backend: Self.soft))
    }

    /// The MSR CPUID names is the one the device was given, and the guest loads through it.
    func testAnotherMSROnSoft() throws {
        let result = try run("xen-hvm64", backend: Self.soft, device: "xen-hvm,msr=0x40000200")
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        let values = reported(result.standardOutput)
        XCTAssertEqual(values["msr"], "0x40000200")
        XCTAssertEqual(values["hypercall 17"], "returned -38, rdx kept", result.standardOutput)
    }

    /// `--pv none` beside Xen's leaves: no KVM signature anywhere (alone it would stay at
    /// 0x40000000, ParavirtualGuestTests); with the defaults KVM's features are all at 0x40000101.
    func testKVMLeavesBesideXensOnSoft() throws {
        let none = try run("xen-hvm64", backend: Self.soft, pv: "none")
        XCTAssertEqual(none.status, 1, none.standardOutput + none.standardError)
        XCTAssertEqual(reported(none.standardOutput)["xen-base"], "0x40000000")
        XCTAssertEqual(reported(none.standardOutput)["kvm-base"], "0x0", none.standardOutput)
        let all = try run("xen-hvm64", backend: Self.soft)
        // KVM_FEATURE_CLOCKSOURCE2 (bit 3) and PV_EOI (bit 6), which the local APIC adds at the moved leaf.
        let features = UInt32(reported(all.standardOutput)["kvm-features"]?.dropFirst(2) ?? "", radix: 16) ?? 0
        XCTAssertEqual(features & (1 << 3 | 1 << 6), 1 << 3 | 1 << 6, all.standardOutput)
    }

    /// Without the device nothing of Xen's is there (it is off by default).
    func testOffByDefaultOnSoft() throws {
        let result = try EndToEnd.vmm(Self.soft + ["--timeout", "100", try GuestKernels.path("xen-hvm64")], timeout: 120)
        XCTAssertEqual(result.status, 1, result.standardOutput + result.standardError)
        XCTAssertEqual(reported(result.standardOutput)["xen-base"], "0x0")
        XCTAssertEqual(reported(result.standardOutput)["kvm-base"], "0x40000000")
    }

    // MARK: KVM (the MSR reaches the device through the MSR filter: this host has no KVM_CAP_XEN_HVM)

    func testGeneratedPageInLongModeOnKVM() throws {
        try EndToEnd.requireKVM()
        if let stopped = try checkGeneratedPage("xen-hvm64", backend: Self.kvm) { throw limitation(stopped) }
    }

    func testGeneratedPageIn32BitModeOnKVM() throws {
        try EndToEnd.requireKVM()
        if let stopped = try checkGeneratedPage("xen-hvm32", backend: Self.kvm) { throw limitation(stopped) }
    }

    func testBlobsInLongModeOnKVM() throws {
        try EndToEnd.requireKVM()
        if let stopped = try checkBlobs("xen-hvm64", longMode: true, backend: Self.kvm) { throw limitation(stopped) }
    }

    func testBlobsIn32BitModeOnKVM() throws {
        try EndToEnd.requireKVM()
        if let stopped = try checkBlobs("xen-hvm32", longMode: false, backend: Self.kvm) { throw limitation(stopped) }
    }

    /// KVM's own leaves (KVM_GET_SUPPORTED_CPUID's) moved beside Xen's, and dropped with `--pv none`.
    func testKVMLeavesBesideXensOnKVM() throws {
        try EndToEnd.requireKVM()
        let all = try run("xen-hvm64", backend: Self.kvm)
        XCTAssertEqual(all.status, 1, all.standardOutput + all.standardError)
        XCTAssertEqual(reported(all.standardOutput)["kvm-base"], "0x40000100", all.standardOutput)
        XCTAssertNotEqual(reported(all.standardOutput)["kvm-features"], "0x0", all.standardOutput)
        let none = try run("xen-hvm64", backend: Self.kvm, pv: "none")
        XCTAssertEqual(none.status, 1, none.standardOutput + none.standardError)
        XCTAssertEqual(reported(none.standardOutput)["xen-base"], "0x40000000")
        XCTAssertEqual(reported(none.standardOutput)["kvm-base"], "0x0", none.standardOutput)
    }
}
