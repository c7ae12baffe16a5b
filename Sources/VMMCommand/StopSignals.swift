#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// SIGINT, SIGTERM, SIGHUP (the terminal went away) and SIGQUIT stop the guest cleanly, devices
/// stopped and the terminal restored: a dedicated thread takes the signals with sigwait(3) and asks
/// the machine to stop, so no Swift code runs inside a signal handler and Swift's crash backtracer
/// (which SIGQUIT would otherwise bring up) never sees them. At a terminal the keys that raise
/// SIGINT, SIGQUIT and SIGTSTP go to the guest instead (TerminalRawMode turns ISIG off).
///
/// `blockInThisThread()` must run before any other thread exists: threads inherit the signal mask,
/// so every thread then leaves these signals pending for the sigwait thread to collect, also those
/// that arrive while the machine is still being built (they stop it as soon as it starts).
final class StopSignals: @unchecked Sendable {
    private static let handled = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
    private let finished = Atomic<Bool>(false)
    private var thread: HostThread?

    static func blockInThisThread() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A closed stdout makes writes fail with EPIPE instead of killing vmm mid-run.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts the thread that turns each of those signals into `runControl.requestStop(.interrupted)`.
    init(stopping runControl: RunControl) throws {
        thread = try HostThread(name: "signals") { [self] in
            var set = Self.signalSet()
            while true {
                var received: Int32 = 0
                guard sigwait(&set, &received) == 0 else { continue }
                if finished.load(ordering: .acquiring) { return }
                runControl.requestStop(.interrupted(Self.describe(received)))
            }
        }
    }

    /// Ends the signal thread once the run is over.
    func finish() {
        finished.store(true, ordering: .releasing)
        guard let thread else { return }
        pthread_kill(thread.pthread, SIGTERM)
        thread.join()
        self.thread = nil
    }

    private static func describe(_ signal: Int32) -> String {
        switch signal {
        case SIGINT: return "interrupted (SIGINT)"
        case SIGHUP: return "the terminal hung up (SIGHUP)"
        case SIGQUIT: return "quit (SIGQUIT)"
        default: return "terminated (SIGTERM)"
        }
    }

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        return set
    }
}
