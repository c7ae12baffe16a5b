import Foundation
import TestSupport
import XCTest

/// Hypercall blobs vmm cannot use (`--device xen-hvm,blob32=FILE,blob64=FILE`) are refused before
/// the guest starts: one line naming the file and what is wrong with it, status 2.
final class XenHVMBlobRejectionTests: XCTestCase {
    private func expectRejection(_ device: String, mentioning words: [String],
                                 file: StaticString = #filePath, line: UInt = #line) throws {
        try EndToEnd.expectStartRefusal(["--backend", "soft", "--device", device], kernel: "xen-hvm64", mentioning: words,
                                        file: file, line: line)
    }

    func testMissingEmptyOddAndOversizedBlobs() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-xen-reject-\(getpid())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        func blob(_ name: String, bytes: Int) -> String {
            let path = directory.appendingPathComponent(name).path
            XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(count: bytes)))
            return path
        }
        let good = blob("good.bin", bytes: 4096)
        let missing = directory.appendingPathComponent("missing.bin").path
        try expectRejection("xen-hvm,blob32=\(missing),blob64=\(good)", mentioning: [missing, "No such file"])
        let empty = blob("empty.bin", bytes: 0)
        try expectRejection("xen-hvm,blob32=\(good),blob64=\(empty)", mentioning: [empty, "empty"])
        let odd = blob("odd.bin", bytes: 6000)
        try expectRejection("xen-hvm,blob64=\(odd)", mentioning: [odd, "6000 bytes", "4096-byte pages"])
        let large = blob("large.bin", bytes: 256 * 4096)
        try expectRejection("xen-hvm,blob32=\(large)", mentioning: [large, "256 pages", "255"])
        try expectRejection("xen-hvm,blob32=\(directory.path)", mentioning: [directory.path, "not a regular file"])
    }
}
