#if canImport(Glibc)
import Glibc
#endif
import FuzzTargets

/// `vmm-fuzz loaders [SECONDS] [SEED] [GUEST.elf ...]`: mutates the seed kernels for SECONDS
/// (default 60) from SEED (default: the clock), checking the loader's invariants on each, and
/// prints executions and findings; a finding is printed with the seed and iteration that made it
/// and ends the run with status 1. Built with `-sanitize=fuzzer -DLIBFUZZER` (scripts/fuzz), the
/// same target runs under libFuzzer instead, with coverage guidance.
#if LIBFUZZER
private let target = try! LoaderFuzzTarget()

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
        guard arguments.first == "loaders" else {
            print("usage: vmm-fuzz loaders [SECONDS] [SEED] [GUEST.elf ...]")
            exit(2)
        }
        let seconds = arguments.count > 1 ? Double(arguments[1]) ?? 60 : 60
        var clock = timespec()
        clock_gettime(CLOCK_REALTIME, &clock)
        let seed = arguments.count > 2 ? UInt64(arguments[2]) ?? 1 : UInt64(clock.tv_nsec)
        let target = try LoaderFuzzTarget()
        let campaign = FuzzCampaign(seeds: LoaderFuzzTarget.seeds(guestFiles: Array(arguments.dropFirst(3))), seed: seed,
                                    fieldOffsets: LoaderFuzzTarget.fieldOffsets)
        print("vmm-fuzz loaders: seed \(seed), \(campaign.seedCount) seed inputs, \(seconds) s")
        let result = campaign.run(seconds: seconds, check: target.check)
        print("vmm-fuzz loaders: \(result.executions) executions, \(target.loaded) loaded, \(target.rejected) rejected, "
            + "\(result.findings.count) findings")
        for finding in result.findings { print("  finding: \(finding)") }
        exit(result.findings.isEmpty ? 0 : 1)
    }
}
#endif
