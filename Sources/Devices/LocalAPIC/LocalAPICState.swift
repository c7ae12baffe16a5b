/// One local APIC's architectural state and its priority rules (SDM vol. 3, ch. 10), with no
/// locking and no calls out: `LocalAPIC` wraps it in a lock and carries out what it asks for.
struct LocalAPICState {
    static let defaultBase: UInt64 = 0xFEE0_0000
    /// Version 0x14 (integrated APIC), 6 LVT entries (max LVT entry 5), no EOI-broadcast suppression.
    static let version: UInt32 = 0x0005_0014

    /// ESR bits (SDM vol. 3, figure 10-9).
    enum ErrorBit: UInt32 {
        case sendIllegalVector = 0x20
        case receiveIllegalVector = 0x40
        case illegalRegisterAddress = 0x80
    }

    let isBootstrapProcessor: Bool
    var id: UInt8
    var base = LocalAPICState.defaultBase
    /// IA32_APIC_BASE bit 11.
    var globallyEnabled = true
    var taskPriority: UInt8 = 0
    var logicalDestination: UInt32 = 0
    var destinationFormat: UInt32 = 0xFFFF_FFFF
    var spuriousVector: UInt32 = 0xFF
    var requests = VectorSet()
    var inService = VectorSet()
    var levelTriggered = VectorSet()
    var errorStatus: UInt32 = 0
    var errorsSinceLatch: UInt32 = 0
    var commandLow: UInt32 = 0
    var commandHigh: UInt32 = 0
    var lvt = LocalVectorTable()
    var timer = LocalAPICTimer()
    var nmiPending = false
    var initPending = false
    var startupVector: UInt8?
    /// An IOAPIC ExtINT message asked this CPU to fetch a vector from the 8259.
    var externalInterruptRequested = false
    /// MSR_KVM_PV_EOI_EN and the guest flag it points at (`ParavirtualEOI`); INIT turns it off.
    var paravirtualEOI = ParavirtualEOI()

    /// Power-up state. The bootstrap processor's LINT0 is set to unmasked ExtINT (virtual-wire
    /// mode), as a PC BIOS leaves it, so 8259 interrupts reach a guest that boots without a BIOS.
    init(id: UInt8, isBootstrapProcessor: Bool) {
        self.id = id
        self.isBootstrapProcessor = isBootstrapProcessor
        if isBootstrapProcessor { lvt.lint0 = 0x700 }
    }

    /// INIT, or a global disable: registers return to power-up values except the APIC ID and the
    /// base address (SDM vol. 3, 10.4.7.3).
    mutating func resetRegisters() {
        var fresh = LocalAPICState(id: id, isBootstrapProcessor: isBootstrapProcessor)
        fresh.base = base
        fresh.globallyEnabled = globallyEnabled
        fresh.initPending = initPending
        fresh.startupVector = startupVector
        fresh.nmiPending = nmiPending
        self = fresh
    }

    var softwareEnabled: Bool { spuriousVector & 0x100 != 0 }
    var isEnabled: Bool { globallyEnabled && softwareEnabled }
    var timerMode: LocalAPICTimer.Mode { LocalAPICTimer.Mode(rawValue: (lvt.timer >> 17) & 3) ?? .oneShot }

    /// PPR (SDM vol. 3, 10.8.3.1): TPR unless a higher class is in service.
    var processorPriority: UInt8 {
        let serving = inService.highest ?? 0
        return taskPriority >> 4 >= serving >> 4 ? taskPriority : serving & 0xF0
    }

    /// APR (SDM vol. 3, 10.6.2.4, P6 rules), used for lowest-priority arbitration.
    var arbitrationPriority: UInt8 {
        let serving = inService.highest ?? 0
        let requested = requests.highest ?? 0
        if taskPriority >> 4 >= requested >> 4 && taskPriority >> 4 > serving >> 4 { return taskPriority }
        return max(taskPriority & 0xF0, serving & 0xF0, requested & 0xF0)
    }

    /// The highest requested vector if its priority class is above the processor priority class.
    var deliverableVector: UInt8? {
        guard isEnabled, let vector = requests.highest, vector >> 4 > processorPriority >> 4 else { return nil }
        return vector
    }

    /// Whether LINT0 lets the 8259's INTR through as ExtINT: on the BSP when LINT0 is unmasked in
    /// ExtINT mode or the APIC is globally disabled (then the pin is the CPU's plain INTR), or on
    /// any CPU an IOAPIC ExtINT message asked for.
    var acceptsExternalInterrupt: Bool {
        if externalInterruptRequested { return true }
        guard isBootstrapProcessor else { return false }
        guard globallyEnabled else { return true }
        return !LocalVectorTable.isMasked(lvt.lint0) && LocalVectorTable.deliveryMode(lvt.lint0) == 7
    }

    /// A fixed or lowest-priority interrupt arrives: it waits in IRR; TMR records its trigger mode.
    /// A disabled APIC drops it; vectors 0-15 are illegal (SDM vol. 3, 10.5.2 and 10.4.7.2).
    mutating func accept(vector: UInt8, levelTriggered level: Bool) {
        guard isEnabled else { return }
        guard vector >= 16 else { return record(.receiveIllegalVector) }
        requests.insert(vector)
        if level { levelTriggered.insert(vector) } else { levelTriggered.remove(vector) }
    }

    /// Notes an error in the ESR and raises the error LVT interrupt if unmasked.
    mutating func record(_ error: ErrorBit) {
        errorsSinceLatch |= error.rawValue
        let entry = lvt.error
        let vector = LocalVectorTable.vector(entry)
        guard isEnabled, !LocalVectorTable.isMasked(entry), vector >= 16 else { return }
        requests.insert(vector)
        levelTriggered.remove(vector)
    }

    /// INTA: the deliverable vector moves from IRR to ISR. Taking the timer's vector frees its IRR
    /// bit for the next expiry, so an expiry owed from a late host timer is requested again at once.
    mutating func acknowledge(now: UInt64) -> UInt8? {
        guard let vector = deliverableVector else { return nil }
        requests.remove(vector)
        inService.insert(vector)
        if vector == LocalVectorTable.vector(lvt.timer) {
            timer.acknowledgedAt = now
            if !LocalVectorTable.isMasked(lvt.timer) && timer.takeOwedExpiry() { requests.insert(vector) }
        }
        return vector
    }

    /// EOI ends the highest in-service vector; returns it when it was level triggered, for the
    /// broadcast to the IOAPIC (SDM vol. 3, 10.8.5).
    mutating func endOfInterrupt() -> UInt8? {
        guard let vector = inService.highest else { return nil }
        inService.remove(vector)
        return levelTriggered.contains(vector) ? vector : nil
    }

    /// Whether this APIC is a target of `destination` (SDM vol. 3, 10.6.2).
    func matches(destination: UInt8, logical: Bool) -> Bool {
        if destination == 0xFF { return true }
        guard logical else { return destination == id }
        let logicalID = UInt8(truncatingIfNeeded: logicalDestination >> 24)
        if destinationFormat >> 28 == 0xF { return logicalID & destination != 0 }
        // Cluster model: high nibble selects the cluster, low nibble the members.
        return logicalID >> 4 == destination >> 4 && logicalID & destination & 0x0F != 0
    }

    /// The timer ran out: its interrupt is requested unless masked; returns whether it expired.
    ///
    /// On hardware every expiry sets the IRR bit, and one that finds the bit still set is merged
    /// into it: a guest slow to take its timer interrupt loses ticks, and so does it here. A host
    /// timer thread that woke late is the VMM's fault, not the guest's: of the expiries it slept
    /// through, those after the guest last took the vector (when the IRR bit was free) each count,
    /// one requested now and the rest owed, requested again at each acknowledge.
    mutating func expireTimer(now: UInt64) -> Bool {
        guard let expiry = timer.expire(now: now, mode: timerMode) else { return false }
        let vector = LocalVectorTable.vector(lvt.timer)
        guard !LocalVectorTable.isMasked(lvt.timer) else {
            timer.forgetOwedExpiries()
            return true
        }
        guard isEnabled, !requests.contains(vector) else { return true }
        let counted = expiry.count(from: timer.acknowledgedAt)
        guard counted > 0 else { return true }
        accept(vector: vector, levelTriggered: false)
        timer.owe(counted - 1, period: expiry.period)
        return true
    }
}
