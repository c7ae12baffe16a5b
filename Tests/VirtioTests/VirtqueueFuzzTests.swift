import Foundation
import FuzzTargets
import XCTest

/// A bounded, seeded run of the virtqueue fuzz target (`scripts/fuzz virtqueue` runs it under
/// libFuzzer for as long as you like): rings, descriptor tables and indirect tables mutated from
/// well-formed ones; every chain stays in guest memory (writable parts in RAM), lengths add up,
/// popping ends. VMM_FUZZ_SEED repeats a run; the seed is printed either way.
final class VirtqueueFuzzTests: XCTestCase {
    func testMutatedRingsAreParsedSafely() throws {
        let seed = ProcessInfo.processInfo.environment["VMM_FUZZ_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64(UInt32.max))
        print("VirtqueueFuzzTests: seed \(seed) (set VMM_FUZZ_SEED to repeat)")
        let target = try VirtqueueFuzzTarget()
        let campaign = FuzzCampaign(seeds: VirtqueueFuzzTarget.seeds, seed: seed, fieldOffsets: { Array(0..<$0.count) })
        let result = campaign.run(iterations: 10_000, check: target.check)
        XCTAssertEqual(result.findings, [])
        XCTAssertEqual(result.executions, 10_000)
        XCTAssertGreaterThan(target.chains, 500, "many mutants still hold chains: the seeds are live")
        XCTAssertGreaterThan(target.malformed, 100, "and many are refused")
    }
}
