import Foundation
import FuzzTargets
import TestSupport
import XCTest

/// A bounded, seeded run of the loader fuzzer (scripts/fuzz runs it for as long as you like): every
/// mutated kernel is loaded or refused with a typed error, a refused one writes nothing, a loaded
/// one enters inside its image. VMM_FUZZ_SEED repeats a run; the seed is printed either way.
final class LoaderFuzzTests: XCTestCase {
    func testMutatedKernelsAreLoadedOrRefusedCleanly() throws {
        let seed = ProcessInfo.processInfo.environment["VMM_FUZZ_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("LoaderFuzzTests: seed \(seed) (set VMM_FUZZ_SEED to repeat)")
        let guests = ["hello", "hello64", "pvh64", "lowload"].compactMap { name -> String? in
            try? GuestKernels.path(name)
        }
        XCTAssertGreaterThanOrEqual(guests.count, 3, "the test guests are built")
        let target = try LoaderFuzzTarget()
        let campaign = FuzzCampaign(seeds: LoaderFuzzTarget.seeds(guestFiles: guests), seed: seed,
                                    fieldOffsets: LoaderFuzzTarget.fieldOffsets)
        let result = campaign.run(iterations: 2000, check: target.check)
        XCTAssertEqual(result.findings, [])
        XCTAssertEqual(result.executions, 2000)
        XCTAssertGreaterThan(target.loaded, campaign.seedCount, "some mutants still load: the seeds are live")
        XCTAssertGreaterThan(target.rejected, 100, "and many are refused")
    }
}
