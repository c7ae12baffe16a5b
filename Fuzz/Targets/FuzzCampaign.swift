#if canImport(Glibc)
import Glibc
#endif

/// A seeded fuzzing loop: each round takes a seed input, mutates it, and checks the target's
/// invariants. The same seed gives the same inputs, so a finding names what reproduces it.
public struct FuzzCampaign {
    public struct Result {
        public var executions = 0
        public var findings: [String] = []
    }

    private let seeds: [[UInt8]]
    private let seed: UInt64
    private let fieldOffsets: ([UInt8]) -> [Int]

    /// `fieldOffsets` names the offsets in a seed that the parser under test trusts most.
    public init(seeds: [[UInt8]], seed: UInt64, fieldOffsets: @escaping ([UInt8]) -> [Int]) {
        self.seeds = seeds
        self.seed = seed
        self.fieldOffsets = fieldOffsets
    }

    public var seedCount: Int { seeds.count }

    /// Runs for `iterations` inputs, or until `seconds` pass when given; stops at the tenth finding.
    public func run(iterations: Int = .max, seconds: Double? = nil, check: ([UInt8]) -> String?) -> Result {
        var result = Result()
        guard !seeds.isEmpty else { return result }
        var mutator = Mutator(seed: seed)
        let offsets = seeds.map(fieldOffsets)
        let deadline = seconds.map { Self.now + $0 }
        for iteration in 0..<iterations {
            if let deadline, iteration % 64 == 0, Self.now > deadline { break }
            let original = seeds[iteration % seeds.count]
            let input = iteration < seeds.count
                ? original : mutator.mutate(original, fieldOffsets: offsets[iteration % seeds.count])
            result.executions += 1
            if let finding = check(input) {
                result.findings.append("seed \(seed), iteration \(iteration), \(input.count) bytes: \(finding)")
                if result.findings.count >= 10 { break }
            }
        }
        return result
    }

    private static var now: Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
