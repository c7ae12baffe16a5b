#if canImport(Glibc)
import Glibc
#endif
import CKVM
import Dispatch
import Synchronization

/// Gets one vCPU's attention from any thread.
///
/// Inside KVM_RUN: kvm_run->immediate_exit covers the window just before entry (KVM returns -EINTR at
/// once, api.rst "immediate_exit"), and SIGUSR1 to the vCPU thread covers the time inside the guest
/// (a pending signal ends KVM_RUN with -EINTR). Outside KVM_RUN, in HLT or wait-for-SIPI, the vCPU
/// sleeps on `wake`, which every kick also signals.
final class KVMVCPUKicker: @unchecked Sendable {
    static let signal = SIGUSR1

    private let run: UnsafeMutablePointer<kvm_run>
    /// The thread inside `run()`, or nil; held locked while signalling so it cannot exit meanwhile.
    private let thread = Mutex<pthread_t?>(nil)
    private let wake = DispatchSemaphore(value: 0)

    init(run: UnsafeMutablePointer<kvm_run>) throws(KVMError) {
        self.run = run
        let error = ckvm_install_kick_handler(Self.signal)
        guard error == 0 else { throw .kickSignalUnavailable(errno: error) }
    }

    func kick() {
        ckvm_request_immediate_exit(run)
        thread.withLock { thread in
            if let thread { pthread_kill(thread, Self.signal) }
        }
        wake.signal()
    }

    /// Called by the vCPU thread as `run()` starts and ends.
    func attachCurrentThread() { thread.withLock { $0 = pthread_self() } }
    func detachThread() { thread.withLock { $0 = nil } }

    /// Blocks until the next kick (or returns at once for a kick that came since the last wait).
    func waitForKick() { wake.wait() }
}
