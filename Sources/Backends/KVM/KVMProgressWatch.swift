#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// On a PVM host KVM runs every guest supervisor-mode instruction in its emulator (about 3M
/// instructions/s), so a kernel can run for minutes without one exit to vmm and look hung. This
/// watch notices that, once: when vCPU 0 has been inside KVM_RUN and no vCPU's instructions have
/// caused an exit (`ExitStatistics.guestInitiated`: no device touched, no HLT) for `quietSeconds`,
/// it samples vCPU 0's RIP and says on stderr what is going on, instead of leaving
/// the user to guess. It does nothing on VT-x/AMD-V hosts.
final class KVMProgressWatch: @unchecked Sendable {
    static let quietSeconds = 5
    /// How often the exit counters are looked at.
    private static let pollMicroseconds: UInt32 = 250_000

    private unowned let vcpu: KVMVirtualCPU
    private let machine: Machine
    private let runControl: RunControl
    /// vCPU 0 is between entering and leaving KVM_RUN.
    let insideGuest = Atomic<Bool>(false)
    /// Set by the watch, taken by vCPU 0 at its next exit (a kick makes one): read RIP into `rip`.
    let sampleRequested = Atomic<Bool>(false)
    let rip = Atomic<UInt64>(0)
    let ripSampled = Atomic<Bool>(false)
    /// Set by `finish`: the vCPU's run is over.
    private let finished = Atomic<Bool>(false)
    /// Set once by `start`, joined by `finish`, both on vCPU 0's thread.
    private var thread: HostThread?

    init(watching vcpu: KVMVirtualCPU) {
        self.vcpu = vcpu
        machine = vcpu.vm.machine
        runControl = vcpu.runControl
    }

    /// Starts the watch thread on a PVM host; `finish` ends it.
    static func start(for vcpu: KVMVirtualCPU) -> KVMProgressWatch? {
        guard case .pvm = KVMHostFlavour.detect() else { return nil }
        let watch = KVMProgressWatch(watching: vcpu)
        guard let thread = try? HostThread(name: "progress watch", { watch.watch() }) else { return nil }
        watch.thread = thread
        return watch
    }

    /// Called by vCPU 0 when its run ends, by a stop or by a guest reset: the watch ends and is
    /// joined. Otherwise a reboot, which ends the run without a stop, would leave the old watch
    /// polling a vCPU that is gone (and each boot would leak a thread, as ThreadSanitizer found).
    func finish() {
        finished.store(true, ordering: .releasing)
        thread?.join()
        thread = nil
    }

    private var shouldEnd: Bool { finished.load(ordering: .acquiring) || runControl.isStopRequested }

    /// Called by vCPU 0 after each KVM_RUN: answers a pending sample request.
    @inline(__always)
    func answerSampleRequest() {
        guard sampleRequested.load(ordering: .relaxed), sampleRequested.exchange(false, ordering: .acquiring) else { return }
        rip.store((try? vcpu.generalRegisters().rip) ?? 0, ordering: .relaxed)
        ripSampled.store(true, ordering: .releasing)
    }

    private func watch() {
        let pollsPerSecond = Int(1_000_000 / Self.pollMicroseconds)
        var lastExits = exits
        var quietPolls = 0
        while !shouldEnd {
            usleep(Self.pollMicroseconds)
            let now = exits
            quietPolls = now == lastExits && insideGuest.load(ordering: .relaxed) ? quietPolls + 1 : 0
            lastExits = now
            guard quietPolls >= Self.quietSeconds * pollsPerSecond else { continue }
            sampleRequested.store(true, ordering: .releasing)
            vcpu.kick()
            for _ in 0..<(2 * pollsPerSecond) where !ripSampled.load(ordering: .acquiring) && !shouldEnd {
                usleep(Self.pollMicroseconds)
            }
            guard !shouldEnd else { return }
            report(exits: now)
            return
        }
    }

    private var exits: UInt64 { machine.guestInitiatedExits }

    private func report(exits: UInt64) {
        let position = ripSampled.load(ordering: .acquiring) ? "vCPU 0 is at RIP 0x\(String(rip.load(ordering: .relaxed), radix: 16))"
            : "vCPU 0's RIP could not be sampled"
        var line = "vmm: no exit from the guest for \(Self.quietSeconds) s: this host's KVM is PVM, which runs guest "
            + "supervisor code in its instruction emulator (about 3M instructions/s), so the guest may take very long; "
            + "\(position), \(exits) exits so far (--backend soft runs such guests faster)\n"
        line.withUTF8 { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }
}
