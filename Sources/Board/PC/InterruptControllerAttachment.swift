import VMMKit

extension PCBoard {
    /// The one place the PC's interrupt controllers (8259 PICs, IOAPIC, local APICs, 8254 PIT) join
    /// the machine. With `.inKernel` placement the KVM backend creates its in-kernel irqchip at VM
    /// creation and installs it as `machine.interruptController` itself, so nothing is attached here.
    /// With `.userspace` placement the machine keeps VMMKit's `NoInterruptController` until the
    /// userspace controller set (`PCInterruptController`) is attached here: IRQ lines then go nowhere.
    static func attachInterruptControllers(to machine: Machine) throws {
        guard machine.interruptControllerPlacement == .userspace else { return }
    }
}
