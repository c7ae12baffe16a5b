/// Counts of the events that leave guest execution (on KVM) or would have (on the Soft CPU), so
/// `--stats` compares the two backends event for event.
public final class ExitStatistics: Sendable {
    public let portIO = Counter()
    public let mmio = Counter()
    public let halt = Counter()
    public let interruptWindow = Counter()
    public let interruptsInjected = Counter()
    public let msr = Counter()
    public let cpuid = Counter()
    public let setTPR = Counter()
    public let hypercall = Counter()
    /// Hypercalls by number (include/uapi/linux/kvm_para.h): the ones vmm answers, and the rest.
    public let hypercallKickCPU = Counter()
    public let hypercallSendIPI = Counter()
    public let hypercallSchedYield = Counter()
    public let hypercallOther = Counter()
    public let kicks = Counter()
    /// Port 0x80 delay writes dropped without an exit (PV I/O delay; not exits).
    public let ioDelays = Counter()
    /// Doorbell writes rung from the vCPU's own thread (`DoorbellTable.ring`): every one on the
    /// Soft CPU, on KVM only those the kernel left to userspace (they are counted as exits too);
    /// not exits on the Soft CPU.
    public let doorbells = Counter()
    public static let doorbellsRow = "doorbells"
    /// EOIs the guest made through KVM's paravirtual EOI flag instead of an APIC write (not exits).
    public let paravirtualEOIs = Counter()
    public let other = Counter()
    /// Guest instructions executed, where the backend counts them (the Soft CPU, per block); not an exit.
    public let instructionsRetired = Counter()
    public static let instructionsRetiredRow = "instructions retired"
    /// Of those, the ones run as translated host code (the Soft CPU's block translator).
    public let instructionsTranslated = Counter()
    public static let instructionsTranslatedRow = "instructions translated"

    public init() {}

    /// One hypercall with number `number` in RAX.
    @inline(__always)
    public func countHypercall(_ number: UInt64) {
        hypercall.increment()
        switch number {
        case 5: hypercallKickCPU.increment()
        case 10: hypercallSendIPI.increment()
        case 11: hypercallSchedYield.increment()
        default: hypercallOther.increment()
        }
    }

    public var rows: [(String, UInt64)] {
        [("port I/O", portIO.value), ("MMIO", mmio.value), ("HLT", halt.value),
         ("interrupt window", interruptWindow.value), ("interrupts injected", interruptsInjected.value),
         ("MSR", msr.value), ("CPUID", cpuid.value), ("set TPR", setTPR.value),
         ("hypercall", hypercall.value), ("hypercall KICK_CPU", hypercallKickCPU.value),
         ("hypercall SEND_IPI", hypercallSendIPI.value), ("hypercall SCHED_YIELD", hypercallSchedYield.value),
         ("hypercall, other numbers", hypercallOther.value),
         ("kicks", kicks.value), ("PV EOIs taken", paravirtualEOIs.value),
         ("port 0x80 delays dropped", ioDelays.value),
         (Self.doorbellsRow, doorbells.value),
         ("other", other.value),
         (Self.instructionsRetiredRow, instructionsRetired.value),
         (Self.instructionsTranslatedRow, instructionsTranslated.value)]
    }

    /// The exits the guest's own instructions cause (not kicks, interrupt windows or host signals):
    /// while these stand still, the guest is computing without touching any device.
    public var guestInitiated: UInt64 {
        portIO.value + mmio.value + halt.value + msr.value + cpuid.value + setTPR.value + hypercall.value
    }

    public var total: UInt64 {
        portIO.value + mmio.value + halt.value + interruptWindow.value + msr.value + cpuid.value
            + setTPR.value + hypercall.value + other.value
    }
}
