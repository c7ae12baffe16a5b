import Synchronization
import VMMKit

/// One vCPU's local APIC: its state under its own lock, and its timer.
///
/// Methods never call another device while holding the lock. What an operation asks for (an IPI, an
/// EOI broadcast) is returned to `LocalAPICs`, which acts on it after unlocking; the only calls made
/// under the lock are to the timer service, whose lock is a leaf. When a change leaves something new
/// for the vCPU to take (an interrupt, NMI, INIT, SIPI), `notify` is called after unlocking.
public final class LocalAPIC: @unchecked Sendable {
    public let index: Int
    private struct Guarded {
        var apic: LocalAPICState
        var arming = TimerArming()
    }
    /// What the vCPU would find if it looked now; a change to a non-empty value calls for a kick.
    private struct Attention: Equatable {
        var vector: UInt8?
        var nmi: Bool
        var initialize: Bool
        var startup: UInt8?
        var external: Bool

        init(_ apic: LocalAPICState) {
            vector = apic.deliverableVector
            nmi = apic.nmiPending
            initialize = apic.initPending
            startup = apic.startupVector
            external = apic.externalInterruptRequested
        }

        var isEmpty: Bool { vector == nil && !nmi && !initialize && startup == nil && !external }
    }

    private let guarded: Mutex<Guarded>
    private let timers: DeviceTimers
    /// Set once in init (the callback needs `self`); nil never after that.
    private var timer: DeviceTimer?
    private let notify: @Sendable () -> Void
    /// Guest RAM, for the paravirtual EOI flag; set by `LocalAPICs.attach` before any vCPU runs.
    var memory: GuestMemory?

    init(index: Int, timers: DeviceTimers, notify: @escaping @Sendable () -> Void) {
        self.index = index
        self.timers = timers
        self.notify = notify
        let apic = LocalAPICState(id: UInt8(truncatingIfNeeded: index), isBootstrapProcessor: index == 0)
        guarded = Mutex(Guarded(apic: apic))
        timer = timers.makeTimer { [weak self] in self?.timerExpired() }
    }

    /// Runs `body` on the state under the lock, re-arms the host timer to match, and kicks the vCPU
    /// afterwards if there is something new for it.
    @discardableResult
    func update<T>(timerFired: Bool = false, _ body: (inout LocalAPICState, UInt64) -> T) -> T {
        let now = timers.now
        let (result, kick) = guarded.withLock { guarded -> (T, Bool) in
            // A timer that just fired is no longer armed.
            if timerFired { guarded.arming.fired() }
            let before = Attention(guarded.apic)
            let result = body(&guarded.apic, now)
            guarded.arming.rearm(timer, for: guarded.apic.timer.deadline(mode: guarded.apic.timerMode))
            let after = Attention(guarded.apic)
            return (result, after != before && !after.isEmpty)
        }
        if kick { notify() }
        return result
    }

    private func inspect<T>(_ body: (LocalAPICState) -> T) -> T { guarded.withLock { body($0.apic) } }

    private func timerExpired() {
        update(timerFired: true) { apic, now in _ = apic.expireTimer(now: now) }
    }

    // MARK: What the vCPU asks

    /// An interrupt whose class is above the processor priority waits in IRR.
    public var hasDeliverableInterrupt: Bool { inspect { $0.deliverableVector != nil } }

    /// Whether the 8259's INTR reaches this CPU now (see `LocalAPICState.acceptsExternalInterrupt`).
    public var acceptsExternalInterrupt: Bool { inspect { $0.acceptsExternalInterrupt } }

    /// INTA, from the vCPU's own thread: first what the guest did with the paravirtual EOI flag,
    /// then the flag for the vector taken (see `ParavirtualEOI`).
    public func acknowledge() -> UInt8? {
        update { apic, now in
            guard let memory else { return apic.acknowledge(now: now) }
            apic.observeParavirtualEOI(memory: memory)
            guard let vector = apic.acknowledge(now: now) else { return nil }
            apic.armParavirtualEOI(for: vector, memory: memory)
            return vector
        }
    }

    /// The vCPU left guest code (its own thread): end an interrupt the guest ended through the
    /// paravirtual EOI flag. Returns the EOIs taken that way since the last call.
    public func synchronizeAfterExit() -> Int {
        guard let memory, inspect({ $0.paravirtualEOI.flagSet || $0.paravirtualEOI.completed > 0 }) else { return 0 }
        return update { apic, _ in
            apic.observeParavirtualEOI(memory: memory)
            defer { apic.paravirtualEOI.completed = 0 }
            return apic.paravirtualEOI.completed
        }
    }

    /// The vCPU fetched an ExtINT vector from the 8259: an IOAPIC ExtINT request is served.
    public func acknowledgeExternalInterrupt() { update { apic, _ in apic.externalInterruptRequested = false } }

    public func takeNonMaskableInterrupt() -> Bool {
        update { apic, _ in
            defer { apic.nmiPending = false }
            return apic.nmiPending
        }
    }

    /// INIT first, then the latest SIPI vector (SDM vol. 3, 8.4.4.1 sends INIT, then SIPIs).
    public func takeStartupSignal() -> StartupSignal? {
        update { apic, _ in
            if apic.initPending {
                apic.initPending = false
                return .initialize
            }
            guard let vector = apic.startupVector else { return nil }
            apic.startupVector = nil
            return .startup(vector: vector)
        }
    }

    /// CR8 is TPR[7:4] (SDM vol. 3, 10.8.6.1).
    public var taskPriorityClass: UInt8 { inspect { $0.taskPriority >> 4 } }

    public func setTaskPriorityClass(_ value: UInt8) { update { apic, _ in apic.taskPriority = (value & 0xF) << 4 } }

    // MARK: Registers and messages (driven by LocalAPICs)

    /// The MMIO page offset of `address` for this CPU's APIC base, or nil when the page is not
    /// mapped there (relocated elsewhere, or the APIC globally disabled).
    func pageOffset(of address: UInt64) -> UInt64? {
        inspect { apic in
            guard apic.globallyEnabled, address >= apic.base, address - apic.base < 0x1000 else { return nil }
            return address - apic.base
        }
    }

    /// Register accesses come from the vCPU's own thread, an exit in their own right: what the guest
    /// did with the paravirtual EOI flag counts first (an EOI it skipped came before this access).
    func readRegister(_ offset: UInt64) -> UInt32 {
        update { apic, now in
            if let memory { apic.observeParavirtualEOI(memory: memory) }
            return apic.readRegister(offset, now: now)
        }
    }

    func writeRegister(_ offset: UInt64, _ value: UInt32) -> LocalAPICState.WriteEffect {
        update { apic, now in
            if let memory { apic.observeParavirtualEOI(memory: memory) }
            return apic.writeRegister(offset, value, now: now)
        }
    }

    func matches(destination: UInt8, logical: Bool) -> Bool {
        inspect { $0.globallyEnabled && $0.matches(destination: destination, logical: logical) }
    }

    var arbitrationPriority: UInt8 { inspect { $0.arbitrationPriority } }

    /// A message from the APIC bus (an IOAPIC or an IPI) addressed to this APIC.
    func receive(_ message: APICMessage) {
        update { apic, _ in
            switch message.deliveryMode {
            case .fixed, .lowestPriority:
                apic.accept(vector: message.vector, levelTriggered: message.levelTriggered)
            case .nonMaskable:
                apic.nmiPending = true
            case .initialize:
                // INIT level de-assert only resynchronizes arbitration IDs.
                guard message.assert || !message.levelTriggered else { return }
                apic.resetRegisters()
                apic.initPending = true
                apic.startupVector = nil
            case .startup:
                apic.startupVector = message.vector
            case .external:
                apic.externalInterruptRequested = true
            case .systemManagement:
                break
            }
        }
    }

    // MARK: MSRs

    /// IA32_APIC_BASE (SDM vol. 3, 10.4.4): base address, global enable (bit 11), BSP (bit 8).
    var baseRegister: UInt64 {
        inspect { $0.base | ($0.globallyEnabled ? 0x800 : 0) | ($0.isBootstrapProcessor ? 0x100 : 0) }
    }

    /// False (#GP) for reserved bits or x2APIC mode, which this APIC does not implement.
    func setBaseRegister(_ value: UInt64) -> Bool {
        let allowed: UInt64 = 0x000F_FFFF_FFFF_F000 | 0x800 | 0x100
        guard value & ~allowed == 0 else { return false }
        update { apic, _ in
            let enable = value & 0x800 != 0
            if apic.globallyEnabled && !enable { apic.resetRegisters() }
            apic.globallyEnabled = enable
            apic.base = value & 0x000F_FFFF_FFFF_F000
        }
        return true
    }

    /// MSR_KVM_PV_EOI_EN (msr.rst); false means #GP.
    var paravirtualEOIRegister: UInt64 { inspect { $0.paravirtualEOI.register } }

    func setParavirtualEOIRegister(_ value: UInt64) -> Bool {
        guard let memory else { return false }
        return update { apic, _ in apic.setParavirtualEOI(value, memory: memory) }
    }

    /// IA32_TSC_DEADLINE: readable and writable only in TSC-deadline timer mode (SDM vol. 3, 10.5.4.1).
    var tscDeadline: UInt64 { inspect { $0.timerMode == .tscDeadline ? $0.timer.tscDeadline : 0 } }

    func setTSCDeadline(_ value: UInt64) {
        update { apic, now in
            guard apic.timerMode == .tscDeadline else { return }
            apic.timer.tscDeadline = value
            // A deadline already passed fires at once.
            _ = apic.expireTimer(now: now)
        }
    }

    var isGloballyEnabled: Bool { inspect { $0.globallyEnabled } }
    var apicID: UInt8 { inspect { $0.id } }

    func reset() {
        update { apic, _ in apic = LocalAPICState(id: UInt8(truncatingIfNeeded: index), isBootstrapProcessor: index == 0) }
    }
}
