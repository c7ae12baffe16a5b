import I8254
import I8259
import IOAPIC
import LocalAPIC
import VMMKit

/// The PC's interrupt wiring in userspace, for either backend: two 8259 PICs, an IOAPIC, a local
/// APIC per vCPU and the 8254 PIT whose channel 0 drives IRQ 0, all timed by one host timer thread.
///
/// Wiring, as on a PC chipset: ISA IRQ n reaches PIC input n and IOAPIC pin n, except IRQ 0, which
/// reaches IOAPIC pin 2 (the interrupt source override every PC's MADT declares); lines 16-23 reach
/// the IOAPIC only. The master PIC's INT reaches the bootstrap processor's LINT0 (virtual-wire mode:
/// with LINT0 unmasked in ExtINT mode the CPU acknowledges the PIC directly). IOAPIC messages go
/// to the local APICs, and their EOIs of level-triggered vectors come back to the IOAPIC.
///
/// Each device locks its own state and calls the others only with its lock released, so there is no
/// global lock and no lock-order cycle between the IOAPIC and the local APICs.
public final class PCInterruptController: InterruptSink, InterruptSource, Device, @unchecked Sendable {
    public let name = "pc-interrupts"
    public let timers: DeviceTimers
    public let pic: I8259Pair
    public let ioapic: IOAPIC
    public let localAPICs: LocalAPICs
    public let pit: I8254

    public init(vcpuCount: Int, timers: DeviceTimers = DeviceTimers()) {
        self.timers = timers
        pic = I8259Pair()
        ioapic = IOAPIC()
        localAPICs = LocalAPICs(vcpuCount: vcpuCount, timers: timers)
        pit = I8254(timers: timers)
        // Weak: the buses keep the devices alive independently, and the IOAPIC and the local APICs
        // must not keep each other alive in a cycle.
        ioapic.deliver = { [weak localAPICs] in localAPICs?.deliver($0) }
        localAPICs.endOfInterruptBroadcast = { [weak ioapic] in ioapic?.endOfInterrupt(vector: $0) }
        pic.onInterruptOutputRaised = { [weak localAPICs] in
            guard let localAPICs else { return }
            for apic in localAPICs.apics where apic.acceptsExternalInterrupt { localAPICs.kick?(apic.index) }
        }
    }

    /// Claims the devices' ports, MMIO, MSRs and CPUID bits, becomes where the machine's lines go
    /// and where its vCPUs take interrupts from, and starts the timer thread.
    public func attach(to machine: Machine) throws {
        for device in [pic, ioapic, localAPICs, pit] as [any Device] { try device.attach(to: machine) }
        machine.interruptRouter.connect(self)
        machine.interruptSource = self
        try timers.start()
    }

    public func reset() {
        for device in [pic, ioapic, localAPICs, pit] as [any Device] { device.reset() }
    }

    public func stop() { timers.stop() }

    // MARK: InterruptSink

    public func setLine(_ line: Int, high: Bool) {
        if line < 16 { pic.setInput(line, high: high) }
        ioapic.setPin(line == 0 ? 2 : line, high: high)
    }

    /// An MSI is an APIC message written to memory: it reaches the local APICs as an IOAPIC
    /// message would (SDM vol. 3, 10.11). One that decodes to nothing is dropped, as on hardware.
    public func send(_ message: MSIMessage) {
        guard let apicMessage = message.apicMessage else { return }
        localAPICs.deliver(apicMessage)
    }

    // MARK: InterruptSource

    public func hasPendingInterrupt(vcpu: Int) -> Bool {
        guard let apic = localAPICs.apic(vcpu) else { return false }
        if apic.hasDeliverableInterrupt { return true }
        return apic.acceptsExternalInterrupt && pic.interruptOutput
    }

    /// The local APIC's vector first, else the PIC's through ExtINT (QEMU and KVM take the same order).
    public func acknowledgeInterrupt(vcpu: Int) -> UInt8? {
        guard let apic = localAPICs.apic(vcpu) else { return nil }
        if let vector = apic.acknowledge() { return vector }
        guard apic.acceptsExternalInterrupt, pic.interruptOutput else { return nil }
        apic.acknowledgeExternalInterrupt()
        return pic.acknowledge()
    }

    public func takeNonMaskableInterrupt(vcpu: Int) -> Bool {
        localAPICs.apic(vcpu)?.takeNonMaskableInterrupt() ?? false
    }

    public func taskPriority(vcpu: Int) -> UInt8 { localAPICs.apic(vcpu)?.taskPriorityClass ?? 0 }

    /// Lowering CR8 below a held interrupt's class makes it deliverable; the APIC kicks the vCPU then.
    public func setTaskPriority(vcpu: Int, _ value: UInt8) { localAPICs.apic(vcpu)?.setTaskPriorityClass(value) }

    public func takeStartupSignal(vcpu: Int) -> StartupSignal? { localAPICs.apic(vcpu)?.takeStartupSignal() }

    public func synchronizeAfterExit(vcpu: Int) -> Int { localAPICs.apic(vcpu)?.synchronizeAfterExit() ?? 0 }
}
