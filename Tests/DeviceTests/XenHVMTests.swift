#if canImport(Glibc)
import Glibc
#endif
import Foundation
import VMMKit
@testable import XenHVM
import XCTest

/// The xen-hvm device without a guest: its CPUID leaves and where KVM's go, the MSR's page loads
/// and refusals, the generated page's stubs for each route, the hypercall answers, and the blob
/// files it refuses.
final class XenHVMTests: XCTestCase {
    private static let page = HypercallPage.size
    private var machine: Machine!

    override func setUpWithError() throws {
        machine = try Machine(memorySize: 2 << 20, vcpuCount: 1)
    }

    private func attached(_ device: XenHVM = XenHVM()) throws -> XenHVM {
        try machine.add(device)
        return device
    }

    private func leaf(_ device: XenHVM, _ leaf: UInt32) -> CPUIDResult {
        var result = CPUIDResult()
        machine.cpuid.apply(leaf: leaf, subleaf: 0, vcpu: 0, to: &result)
        return result
    }

    private func blob(pages: Int, seed: UInt8) -> [UInt8] {
        (0..<(pages * Self.page)).map { UInt8(truncatingIfNeeded: $0 / Self.page) &* 31 &+ seed &+ UInt8(truncatingIfNeeded: $0) }
    }

    func testTheLeavesAndKVMsMove() throws {
        XCTAssertEqual(machine.cpuid.kvmLeafBase, 0x4000_0000, "alone, KVM's leaves are first")
        let device = try attached(XenHVM(msr: 0x4000_0200, blob32: blob(pages: 3, seed: 1), blob64: blob(pages: 2, seed: 2)))
        let signature = leaf(device, 0x4000_0000)
        let text = [signature.ebx, signature.ecx, signature.edx].flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
        XCTAssertEqual(String(decoding: text, as: UTF8.self), "XenVMMXenVMM")
        XCTAssertEqual(signature.eax, 0x4000_0002, "the highest Xen leaf")
        XCTAssertEqual(leaf(device, 0x4000_0001).eax, 4 << 16)
        XCTAssertEqual(leaf(device, 0x4000_0002), CPUIDResult(eax: 2, ebx: 0x4000_0200), "the smaller blob's pages, the MSR")
        XCTAssertEqual(machine.cpuid.definedLeaves, [0x4000_0000, 0x4000_0001, 0x4000_0002])
        XCTAssertEqual(machine.cpuid.kvmLeafBase, 0x4000_0100)
        XCTAssertEqual(machine.cpuid.kvmLeafBase(offering: .all), 0x4000_0100)
        XCTAssertNil(machine.cpuid.kvmLeafBase(offering: .none), "beside Xen's, KVM's leaves go when they offer nothing")
        XCTAssertEqual(leaf(device, 0x4000_0100), CPUIDResult(), "the device leaves KVM's range alone")
    }

    func testALoadCopiesThePageOfTheVCPUsMode() throws {
        let blob32 = blob(pages: 2, seed: 3), blob64 = blob(pages: 2, seed: 4)
        let device = try attached(XenHVM(blob32: blob32, blob64: blob64))
        XCTAssertTrue(device.writeMSR(XenHVM.defaultMSR, value: 0x10_0000 | 1, vcpu: 0, isLongMode: { true }))
        XCTAssertEqual(try machine.memory.readBytes(at: 0x10_0000, count: Self.page), Array(blob64[Self.page...]))
        XCTAssertTrue(device.writeMSR(XenHVM.defaultMSR, value: 0x10_0000, vcpu: 0, isLongMode: { false }))
        XCTAssertEqual(try machine.memory.readBytes(at: 0x10_0000, count: Self.page), Array(blob32[..<Self.page]))
    }

    func testRefusedLoadsWriteNothing() throws {
        let device = try attached(XenHVM(blob32: blob(pages: 1, seed: 5), blob64: blob(pages: 1, seed: 6)))
        try machine.memory.write([UInt8](repeating: 0x5a, count: Self.page), at: 0x2000)
        XCTAssertFalse(device.writeMSR(XenHVM.defaultMSR, value: 0x2000 | 1, vcpu: 0, isLongMode: { true }), "index beyond the blob")
        XCTAssertFalse(device.writeMSR(XenHVM.defaultMSR, value: 0x2000 | 0xfff, vcpu: 0, isLongMode: { false }))
        XCTAssertEqual(try machine.memory.readBytes(at: 0x2000, count: Self.page), [UInt8](repeating: 0x5a, count: Self.page))
        XCTAssertFalse(device.writeMSR(XenHVM.defaultMSR, value: 2 << 20, vcpu: 0, isLongMode: { true }), "just past RAM")
        XCTAssertFalse(device.writeMSR(XenHVM.defaultMSR, value: 0xfee0_0000, vcpu: 0, isLongMode: { true }), "in the MMIO hole")
        XCTAssertTrue(device.writeMSR(XenHVM.defaultMSR, value: (2 << 20) - UInt64(Self.page), vcpu: 0, isLongMode: { true }),
                      "RAM's last page")
        XCTAssertNil(device.readMSR(XenHVM.defaultMSR, vcpu: 0), "write-only")
    }

    func testTheGeneratedPageForTheInstruction() throws {
        let device = try attached()
        machine.hypercalls.instructionReachesHandler = true
        XCTAssertEqual(device.pageCount, 1)
        XCTAssertNil(device.page(1, longMode: true), "one page only")
        let page = Array(try XCTUnwrap(device.page(0, longMode: true)))
        XCTAssertEqual(page.count, Self.page)
        // mov $17, %eax; vmcall; ret; then INT3 to the next stub.
        XCTAssertEqual(Array(page[17 * 32..<17 * 32 + 9]), [0xb8, 17, 0, 0, 0, 0x0f, 0x01, 0xc1, 0xc3])
        XCTAssertEqual(Array(page[17 * 32 + 9..<18 * 32]), [UInt8](repeating: 0xcc, count: 23))
        XCTAssertEqual(Array(page[127 * 32..<127 * 32 + 5]), [0xb8, 127, 0, 0, 0])
        XCTAssertEqual(Array(page[23 * 32..<23 * 32 + 3]), [0x0f, 0x0b, 0xcc], "HYPERVISOR_iret: UD2 for HVM")
        XCTAssertEqual(Array(try XCTUnwrap(device.page(0, longMode: false))), page, "the same stubs in both modes")
    }

    func testTheGeneratedPageForPorts() throws {
        let device = try attached()
        machine.hypercalls.instructionReachesHandler = false
        let port = XenHVM.portBase + 5
        let long = Array(try XCTUnwrap(device.page(0, longMode: true)))
        // push %rdx; mov $port, %dx; in %dx, %eax; cltq; pop %rdx; ret.
        XCTAssertEqual(Array(long[5 * 32..<5 * 32 + 11]),
                       [0x52, 0x66, 0xba, UInt8(port & 0xff), UInt8(port >> 8), 0xed, 0x48, 0x98, 0x5a, 0xc3, 0xcc])
        let short = Array(try XCTUnwrap(device.page(0, longMode: false)))
        XCTAssertEqual(Array(short[5 * 32..<5 * 32 + 9]), [0x52, 0x66, 0xba, UInt8(port & 0xff), UInt8(port >> 8), 0xed, 0x5a, 0xc3, 0xcc],
                       "no cltq: 0x48 is DEC EAX in 32-bit code")
        XCTAssertEqual(Array(short[23 * 32..<23 * 32 + 2]), [0x0f, 0x0b])
    }

    /// What a backend loading pages in the kernel (KVM_XEN_HVM_CONFIG) is given: the files' blobs,
    /// the generated page for a mode without one, for the route it names.
    func testTheBlobsOfferedToTheKernel() throws {
        let blob64 = blob(pages: 3, seed: 7)
        let device = try attached(XenHVM(msr: 0x4000_0200, blob64: blob64))
        let loader = try XCTUnwrap(machine.msrs.hypercallPageLoader)
        XCTAssertTrue(loader === device)
        XCTAssertEqual(loader.pageMSR, 0x4000_0200)
        let blobs = loader.blobs(instructionReachesHandler: false)
        XCTAssertEqual(blobs.bits64, blob64)
        XCTAssertEqual(blobs.bits32, HypercallPage.generate(route: .ports(base: XenHVM.portBase), longMode: false))
        XCTAssertEqual(loader.blobs(instructionReachesHandler: true).bits32[0], 0xb8, "mov imm32, %eax")
    }

    func testEveryHypercallIsUnimplemented() throws {
        let device = try attached()
        XCTAssertTrue(machine.hypercalls.handler === device)
        for number: UInt64 in [0, 17, 127, 0xffff_ffff] {
            XCTAssertEqual(Int64(bitPattern: device.hypercall(number, vcpu: 0, cpl: 0)), -38)
        }
        XCTAssertEqual(Int64(bitPattern: device.hypercall(17, vcpu: 0, cpl: 3)), -1, "-EPERM above CPL 0")
        let access = BusAccess(address: UInt64(XenHVM.portBase) + 17, offset: 17, size: 4, vcpu: 0)
        XCTAssertEqual(device.read(access), 0xffff_ffda, "-38 in EAX, which the stub sign-extends")
        XCTAssertEqual(machine.ports.read(UInt64(XenHVM.portBase) + 127, size: 4, vcpu: 0), 0xffff_ffda)
    }

    func testTwoDevicesClash() throws {
        _ = try attached()
        XCTAssertThrowsError(try machine.add(XenHVM(name: "second", msr: 0x4000_0200)))
    }

    // MARK: blob files

    private func makeDevice(_ specification: String) throws -> any Device {
        var registry = DeviceRegistry()
        try registry.register(XenHVM.deviceType)
        return try registry.makeDevice(specification)
    }

    private func file(bytes: Int) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xen-blob-\(getpid())-\(bytes).bin").path
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: bytes)))
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }

    func testBlobFiles() throws {
        let two = try file(bytes: 2 * Self.page)
        let device = try XCTUnwrap(try makeDevice("xen-hvm,msr=0x40000200,blob32=\(two)") as? XenHVM)
        XCTAssertEqual(device.msr, 0x4000_0200)
        XCTAssertEqual(device.blob32?.count, 2 * Self.page)
        XCTAssertNil(device.blob64, "the other mode keeps the generated page")
        XCTAssertEqual(device.pageCount, 1)
        XCTAssertNotNil(try makeDevice("xen-hvm,blob64=\(try file(bytes: 255 * Self.page))"))
    }

    func testBadBlobFilesAreRefused() throws {
        let cases: [(String, HypercallBlobError)] = [
            ("/nonexistent/blob", .cannotRead("/nonexistent/blob", "No such file or directory")),
            (FileManager.default.temporaryDirectory.path, .notAFile(FileManager.default.temporaryDirectory.path)),
            (try file(bytes: 0), .empty(try file(bytes: 0))),
            (try file(bytes: 4097), .notWholePages(try file(bytes: 4097), size: 4097)),
            (try file(bytes: 256 * Self.page), .tooLarge(try file(bytes: 256 * Self.page), pages: 256)),
        ]
        for (path, expected) in cases {
            XCTAssertThrowsError(try makeDevice("xen-hvm,blob64=\(path)")) { error in
                XCTAssertEqual(error as? HypercallBlobError, expected)
                XCTAssertTrue(String(describing: error).contains(path), "\(error)")
            }
        }
        XCTAssertThrowsError(try makeDevice("xen-hvm,msr=0x100000000")) { error in
            XCTAssertEqual(error as? DeviceSpecificationError, .badValue("xen-hvm", "msr", "0x100000000"))
        }
    }
}
