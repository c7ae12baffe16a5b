import Foundation
@testable import VMMCommand
import XCTest

/// The dynamic-symbol reader behind vmm's check that a plugin binds to vmm's VMMKit: it lists what a
/// library takes from elsewhere, and a damaged file gives nil, never a trap.
final class ELFUndefinedSymbolsTests: XCTestCase {
    private var directory = ""
    private var library = ""

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("elf-symbols-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let source = directory + "/library.c"
        try """
            #include <stdio.h>
            extern int defined_elsewhere(int);
            int defined_here(int x) { puts("called"); return defined_elsewhere(x) + 1; }
            """.write(toFile: source, atomically: true, encoding: .utf8)
        library = directory + "/library.so"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["cc", "-shared", "-fPIC", "-o", library, source]
        try process.run()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "cc -shared")
    }

    override func tearDownWithError() throws {
        try FileManager.default.removeItem(atPath: directory)
    }

    func testListsWhatTheLibraryTakesFromElsewhereAndNotWhatItDefines() throws {
        let names = try XCTUnwrap(ELFUndefinedSymbols.names(inFileAt: library))
        XCTAssertTrue(names.contains("defined_elsewhere"), "\(names)")
        XCTAssertTrue(names.contains("puts"), "\(names)")
        XCTAssertFalse(names.contains("defined_here"), "\(names)")
    }

    func testAFileThatIsNotAnELFLibraryHasNoNames() throws {
        let text = directory + "/text.so"
        try "not an ELF file\n".write(toFile: text, atomically: true, encoding: .utf8)
        XCTAssertNil(ELFUndefinedSymbols.names(inFileAt: text))
        XCTAssertNil(ELFUndefinedSymbols.names(inFileAt: directory + "/absent.so"))
    }

    /// Every truncation of the library, and the section table moved past the end of the file: the
    /// reader gives nil or, when the cut spares all it reads, the whole list; never other names.
    func testADamagedLibraryGivesNilInsteadOfTrapping() throws {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: library))
        let whole = try XCTUnwrap(ELFUndefinedSymbols.names(inFileAt: library))
        let damaged = directory + "/damaged.so"
        for length in stride(from: 0, to: bytes.count, by: 13) {
            try bytes.prefix(length).write(to: URL(fileURLWithPath: damaged))
            let names = ELFUndefinedSymbols.names(inFileAt: damaged)
            XCTAssertTrue(names == nil || names == whole, "cut at \(length) of \(bytes.count) bytes: \(names ?? [])")
            if length < 0x40 { XCTAssertNil(names, "no complete ELF header") }
        }
        var farSectionTable = bytes
        farSectionTable.replaceSubrange(0x28..<0x30, with: [UInt8](repeating: 0xff, count: 8))
        try farSectionTable.write(to: URL(fileURLWithPath: damaged))
        XCTAssertNil(ELFUndefinedSymbols.names(inFileAt: damaged))
    }
}
