import TestSupport
import XCTest

/// The test guests boot under QEMU (TCG) too: the reference behaviour vmm's backends are held to.
final class QEMUGuestTests: XCTestCase {
    /// Skips without QEMU; otherwise boots `guest` with a 120-second watchdog.
    func boot(_ guest: String, append: String = "") throws -> ProcessResult {
        guard QEMU.executable != nil else { throw XCTSkip("qemu-system-x86_64 is not installed") }
        let result = QEMU.runKernel(try GuestKernels.path(guest), append: append, timeout: 120)
        XCTAssertFalse(result.timedOut, "\(guest) did not finish:\n\(result.standardOutput)\(result.standardError)")
        return result
    }

    func assertPasses(_ guest: String, printing lines: [String], append: String = "",
                      file: StaticString = #filePath, line: UInt = #line) throws {
        let result = try boot(guest, append: append)
        for expected in lines + ["PASS"] {
            XCTAssertTrue(result.standardOutput.contains(expected), "\(guest): no '\(expected)' in:\n\(result.standardOutput)",
                          file: file, line: line)
        }
        XCTAssertEqual(result.status, 1, "\(guest): \(result.standardError)", file: file, line: line)
    }

    func testHello() throws {
        try assertPasses("hello", printing: ["Hello from a multiboot guest\n", "cmdline: ", "greeting=1", "mem_upper: 523136 KiB"],
                         append: "greeting=1")
    }

    func testHello64() throws {
        try assertPasses("hello64", printing: ["Hello from long mode\n", "mem_upper: 523136 KiB"])
    }

    func testPVH64() throws {
        try assertPasses("pvh64", printing: ["Hello from a PVH guest\n", "cmdline: pvh=yes\n"], append: "pvh=yes")
    }

    func testTripleFaultEndsQEMUWithStatusZero() throws {
        let result = try boot("triplefault")
        XCTAssertTrue(result.standardOutput.contains("about to triple fault"), result.standardOutput)
        XCTAssertFalse(result.standardOutput.contains("FAIL"), result.standardOutput)
        XCTAssertEqual(result.status, 0, "QEMU -no-reboot exits 0 after the reset")
    }

    func testExitBenchReportsPortIOAndSkipsMMIOWithoutTheTestDevice() throws {
        let result = try boot("exitbench", append: "n=1000")
        XCTAssertNotNil(result.standardOutput.range(of: #"port-io: \d+ cycles/exit"#, options: .regularExpression),
                        result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("mmio: skipped"), result.standardOutput)
        XCTAssertEqual(result.status, 1)
    }

    func testSieveCountsPrimes() throws {
        try assertPasses("sieve", printing: ["sieve: 78498 primes below 1000000\n", "cycles: "])
    }

    func testCRC32() throws {
        try assertPasses("crc32", printing: ["crc32: 98ff5554 over 4194304 bytes\n", "cycles: "])
    }

    func testMemcpy() throws {
        try assertPasses("memcpy", printing: ["memcpy: checksum 0c64d457277fdc2b over 67108864 bytes\n", "cycles: "])
    }

    /// portio's UART half works anywhere; its test-device half needs vmm, so under QEMU it must
    /// stop at the missing magic rather than pass.
    func testPortIOChecksTheUARTThenMissesTheTestDevice() throws {
        let result = try boot("portio")
        XCTAssertTrue(result.standardOutput.contains("uart scratch: ok"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("FAIL: test device magic"), result.standardOutput)
        XCTAssertEqual(result.status, 3)
    }

    func testMMIOGuestNoticesTheMissingTestDevice() throws {
        let result = try boot("mmio")
        XCTAssertTrue(result.standardOutput.contains("FAIL: test device magic"), result.standardOutput)
        XCTAssertEqual(result.status, 3)
    }
}
