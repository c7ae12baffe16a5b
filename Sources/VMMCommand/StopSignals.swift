#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// Ctrl-C and SIGTERM stop the guest cleanly: a dedicated thread takes the signals with sigwait(3)
/// and asks the machine to stop, so no Swift code runs inside a signal handler.
///
/// `blockInThisThread()` must run before any other thread exists: threads inherit the signal mask,
/// so every thread then leaves SIGINT/SIGTERM pending for the sigwait thread to collect.
final class StopSignals: @unchecked Sendable {
    private static let handled = [SIGINT, SIGTERM]
    private let finished = Atomic<Bool>(false)
    private var thread: HostThread?

    static func blockInThisThread() {
        var set = signalSet()
        pthread_sigmask(SIG_BLOCK, &set, nil)
        // A closed stdout makes writes fail with EPIPE instead of killing vmm mid-run.
        signal(SIGPIPE, SIG_IGN)
    }

    /// Starts the thread that turns SIGINT/SIGTERM into `runControl.requestStop(.interrupted)`.
    init(stopping runControl: RunControl) throws {
        thread = try HostThread(name: "signals") { [self] in
            var set = Self.signalSet()
            while true {
                var received: Int32 = 0
                guard sigwait(&set, &received) == 0 else { continue }
                if finished.load(ordering: .acquiring) { return }
                let name = received == SIGINT ? "interrupted (SIGINT)" : "terminated (SIGTERM)"
                runControl.requestStop(.interrupted(name))
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

    private static func signalSet() -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in handled { sigaddset(&set, signal) }
        return set
    }
}
