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
    public let kicks = Counter()
    public let other = Counter()
    /// Guest instructions executed, where the backend counts them (the Soft CPU, per block); not an exit.
    public let instructionsRetired = Counter()
    public static let instructionsRetiredRow = "instructions retired"
    /// Of those, the ones run as translated host code (the Soft CPU's block translator).
    public let instructionsTranslated = Counter()
    public static let instructionsTranslatedRow = "instructions translated"

    public init() {}

    public var rows: [(String, UInt64)] {
        [("port I/O", portIO.value), ("MMIO", mmio.value), ("HLT", halt.value),
         ("interrupt window", interruptWindow.value), ("interrupts injected", interruptsInjected.value),
         ("MSR", msr.value), ("CPUID", cpuid.value), ("set TPR", setTPR.value),
         ("hypercall", hypercall.value), ("kicks", kicks.value), ("other", other.value),
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
