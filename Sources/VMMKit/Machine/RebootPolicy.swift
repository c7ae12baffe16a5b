/// What the machine does when the guest resets it, as QEMU's `-no-reboot` and
/// `-action reboot=...,shutdown=...` decide it there.
public struct RebootPolicy: Equatable, Sendable {
    /// A guest reset (a reset register, the keyboard controller's pulse, KVM's reset event) restarts
    /// the machine; false ends the run with `MachineOutcome.reset` instead, as `-no-reboot` does.
    public var rebootsOnReset: Bool
    /// A triple fault counts as a reset, as on a PC, where the chipset turns the CPU's shutdown
    /// cycle into a reset (and as QEMU does). False by default: the run ends with
    /// `MachineOutcome.shutdown` and the vCPU's registers, which is what one debugging a kernel
    /// wants to see. Without `rebootsOnReset` a triple fault always ends the run that way.
    public var resetsOnTripleFault: Bool

    public init(rebootsOnReset: Bool = true, resetsOnTripleFault: Bool = false) {
        self.rebootsOnReset = rebootsOnReset
        self.resetsOnTripleFault = resetsOnTripleFault
    }
}
