import VMMKit

extension PCBoard {
    /// The one place the PC's interrupt controllers (8259 PICs, IOAPIC, local APICs, 8254 PIT) join
    /// the machine. With `.inKernel` placement the KVM backend creates its in-kernel irqchip at VM
    /// creation and `Machine.run` connects the machine's lines to it, so nothing is attached here.
    /// With `.userspace` placement our Swift devices are attached as one set, `PCInterruptController`,
    /// which claims their ports, MMIO pages and MSRs and becomes the machine's interrupt sink and
    /// source.
    static func attachInterruptControllers(to machine: Machine) throws {
        guard machine.interruptControllerPlacement == .userspace else { return }
        try machine.add(PCInterruptController(vcpuCount: machine.vcpuCount))
    }
}
