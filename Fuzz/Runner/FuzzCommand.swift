#if canImport(Glibc)
import Glibc
#endif
import FuzzTargets

/// One fuzz target as the runner drives it: its invariant check, the seed inputs and offsets
/// worth aiming at for the own mutator, and a line of counts for the end of a run.
struct RunnableTarget {
    let check: ([UInt8]) -> String?
    let seeds: [[UInt8]]
    let fieldOffsets: ([UInt8]) -> [Int]
    let summary: () -> String

    /// `loaders` (files: the seed kernels), `devices` (files: the test guest the machine loads) or
    /// `virtqueue` (no files).
    static func named(_ name: String, files: [String]) throws -> RunnableTarget? {
        switch name {
        case "loaders":
            let target = try LoaderFuzzTarget()
            return RunnableTarget(check: target.check, seeds: LoaderFuzzTarget.seeds(guestFiles: files),
                                  fieldOffsets: LoaderFuzzTarget.fieldOffsets,
                                  summary: { "\(target.loaded) loaded, \(target.rejected) rejected" })
        case "devices":
            guard let kernel = files.first else { throw FuzzSetupError("devices: name the test guest to load") }
            let target = try DeviceRegisterFuzzTarget(kernelPath: kernel)
            return RunnableTarget(check: target.check, seeds: DeviceRegisterFuzzTarget.seeds,
                                  fieldOffsets: DeviceRegisterFuzzTarget.fieldOffsets,
                                  summary: { "\(target.reachedBusWindows) of \(target.busWindowCount) port/MMIO windows reached" })
        case "virtqueue":
            let target = try VirtqueueFuzzTarget()
            return RunnableTarget(check: target.check, seeds: VirtqueueFuzzTarget.seeds, fieldOffsets: { Array(0..<$0.count) },
                                  summary: { "\(target.chains) chains, \(target.malformed) malformed, \(target.broken) broken rings" })
        default:
            return nil
        }
    }

    static let usage = "usage: vmm-fuzz loaders|devices|virtqueue [SECONDS] [SEED] [FILE ...]"
}

/// `vmm-fuzz TARGET [SECONDS] [SEED] [FILE ...]`: mutates the target's seeds for SECONDS (default
/// 60) from SEED (default: the clock), checking the target's invariants on each, and prints
/// executions and findings; a finding is printed with the seed and iteration that made it and
/// ends the run with status 1. Built with `-sanitize=fuzzer -DLIBFUZZER` (scripts/fuzz), the same
/// targets run under libFuzzer instead, with coverage guidance; the target and its files come from
/// VMM_FUZZ_TARGET and VMM_FUZZ_FILES (colon-separated) then, libFuzzer owning the arguments, and
/// the target's seeds are written into the directory VMM_FUZZ_SEEDS_TO names, the corpus to start from.
/// Either way an input that runs for 60 s counts as a hang: libFuzzer's -timeout, or SIGALRM here.
#if LIBFUZZER
private func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }

private let target: RunnableTarget = {
    let name = environment("VMM_FUZZ_TARGET") ?? "loaders"
    let files = (environment("VMM_FUZZ_FILES") ?? "").split(separator: ":").map(String.init)
    do {
        guard let target = try RunnableTarget.named(name, files: files) else { fatalError(RunnableTarget.usage) }
        return target
    } catch {
        fatalError("vmm-fuzz \(name): \(error)")
    }
}()

private func writeSeeds(into directory: String) {
    for (index, seed) in target.seeds.enumerated() {
        let descriptor = open("\(directory)/seed-\(index)", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { fatalError("vmm-fuzz: cannot write seeds into \(directory)") }
        _ = seed.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
        close(descriptor)
    }
}

private func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    if let finding = target.check(bytes) { fatalError(finding) }
    return 0
}

/// libFuzzer's driver, entered from our own main: SwiftPM links an executable's entry point itself,
/// so libFuzzer's main() cannot be the one.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<Int32>,
                       _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@main
struct FuzzCommand {
    static func main() {
        if let directory = environment("VMM_FUZZ_SEEDS_TO") { writeSeeds(into: directory) }
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(runDriver(&argc, &argv) { fuzzOneInput($0, $1) })
    }
}
#else
@main
struct FuzzCommand {
    static func main() throws {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first,
              let target = try RunnableTarget.named(name, files: Array(arguments.dropFirst(3))) else {
            print(RunnableTarget.usage)
            exit(2)
        }
        let seconds = arguments.count > 1 ? Double(arguments[1]) ?? 60 : 60
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let seed = arguments.count > 2 ? UInt64(arguments[2]) ?? 1 : UInt64(clock.tv_nsec)
        let campaign = FuzzCampaign(seeds: target.seeds, seed: seed, fieldOffsets: target.fieldOffsets)
        print("vmm-fuzz \(name): seed \(seed), \(campaign.seedCount) seed inputs, \(seconds) s")
        let result = campaign.run(seconds: seconds) { input in
            alarm(60)
            defer { alarm(0) }
            return target.check(input)
        }
        print("vmm-fuzz \(name): \(result.executions) executions, \(target.summary()), \(result.findings.count) findings")
        for finding in result.findings { print("  finding: \(finding)") }
        exit(result.findings.isEmpty ? 0 : 1)
    }
}
#endif
