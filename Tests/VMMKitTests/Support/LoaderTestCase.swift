import XCTest
@testable import VMMKit
@testable import KernelLoading

/// Shared setup for loader tests: a fresh 64 MiB machine, a scratch directory for kernel and
/// module files, and checks that a rejected kernel wrote nothing.
class LoaderTestCase: XCTestCase {
    static let memorySize: UInt64 = 64 << 20
    var scratch: ScratchDirectory!
    var machine: Machine!

    override func setUpWithError() throws {
        scratch = try ScratchDirectory()
        machine = try Machine(memorySize: Self.memorySize, vcpuCount: 1)
    }

    override func tearDown() {
        scratch = nil
        machine = nil
    }

    /// A kernel body: recognisable bytes so a test can find them in guest memory.
    static func body(_ count: Int = 64, seed: UInt8 = 0x40) -> [UInt8] {
        (0..<count).map { seed &+ UInt8(truncatingIfNeeded: $0) }
    }

    func write(_ elf: TestELF, name: String = "kernel.elf") throws -> String {
        try scratch.write(name, elf.bytes)
    }

    func load(_ path: String, commandLine: String = "", modules: [String] = []) throws -> LoadedKernel {
        try KernelLoader.load(kernelAt: path, into: machine, commandLine: commandLine, modules: modules)
    }

    /// Loads `path` expecting a `KernelLoadError` whose description starts with `blamed` (the file
    /// at fault: the kernel unless stated) and after which guest memory is still all zero.
    @discardableResult
    func expectFailure(_ path: String, blaming blamed: String? = nil, commandLine: String = "", modules: [String] = [],
                       file: StaticString = #filePath, line: UInt = #line) -> KernelLoadError? {
        do {
            let loaded = try load(path, commandLine: commandLine, modules: modules)
            XCTFail("loaded as \(loaded.format) instead of failing", file: file, line: line)
            return nil
        } catch let error as KernelLoadError {
            XCTAssertTrue(error.description.hasPrefix("\(blamed ?? path): "), "\(error)", file: file, line: line)
            assertNothingWritten(file: file, line: line)
            return error
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
            return nil
        }
    }

    /// Every place a load writes is still zero: boot areas and the usual kernel addresses.
    func assertNothingWritten(file: StaticString = #filePath, line: UInt = #line) {
        for (address, length) in [(UInt64(0), 0x2_2000), (0x7_c000, 0x4000), (0x10_0000, 0x20_0000)] {
            let bytes = (try? machine.memory.readBytes(at: address, count: length)) ?? [1]
            XCTAssertTrue(bytes.allSatisfy { $0 == 0 }, "memory at 0x\(String(address, radix: 16)) was written",
                          file: file, line: line)
        }
    }

    func u32(_ address: UInt64) throws -> UInt32 { try machine.memory.read(UInt32.self, at: address) }
    func u64(_ address: UInt64) throws -> UInt64 { try machine.memory.read(UInt64.self, at: address) }

    /// The NUL-terminated string at `address`.
    func string(at address: UInt64) throws -> String {
        var bytes: [UInt8] = []
        while let byte = try? machine.memory.read(UInt8.self, at: address + UInt64(bytes.count)), byte != 0 {
            bytes.append(byte)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
