import TestSupport
import XCTest
@testable import VMMKit
@testable import KernelLoading

/// The loader against real toolchain output: the guests of Tests/Guests, built by gcc and ld.
final class GuestKernelLoadingTests: XCTestCase {
    func load(_ guest: String, commandLine: String = "") throws -> LoadedKernel {
        let machine = try Machine(memorySize: 64 << 20, vcpuCount: 1)
        return try KernelLoader.load(kernelAt: try GuestKernels.path(guest), into: machine, commandLine: commandLine,
                                     modules: [])
    }

    func testMultiboot32Guest() throws {
        let kernel = try load("hello", commandLine: "n=1")
        XCTAssertEqual(kernel.format, .multiboot)
        XCTAssertEqual(kernel.bootState.general.rax, 0x2BAD_B002)
        XCTAssertGreaterThanOrEqual(kernel.entry, 0x10_0000)
    }

    func testMultiboot64GuestShippedAsELF32() throws {
        XCTAssertEqual(try load("sieve").format, .multiboot)
    }

    func testPVHGuest() throws {
        let kernel = try load("pvh64")
        XCTAssertEqual(kernel.format, .pvh)
        XCTAssertEqual(kernel.bootState.general.rbx, BootLayout.standard.bootInfo)
    }
}
