#if canImport(Glibc)
import Glibc
#endif
import CKVM
import VMMKit

/// KVM's in-kernel PIC, IOAPIC and LAPICs as the machine's interrupt sink.
///
/// Lines go in with KVM_IRQ_LINE (api.rst). The VM's GSI routing (`ckvm_set_gsi_routing`) sends
/// GSIs 0-15 to the master/slave PIC inputs and to the IOAPIC pins of the same number (GSI 0 to
/// pin 2, as on a PC), and 16-23 to the IOAPIC only, so an ISA IRQ reaches whichever controller the
/// guest enabled. MSIs go in with KVM_SIGNAL_MSI. Delivery into the vCPUs, HLT and INIT/SIPI are
/// KVM's business, so this is a sink only: there is no `InterruptSource` with an in-kernel irqchip.
///
/// It also routes eventfds to MSIs (`KVMIRQFD`), so that MSI-X vectors are raised through irqfds.
public final class KVMInKernelIRQChip: InterruptSink, MSIEventRouting, @unchecked Sendable {
    /// The IOAPIC's pin count in KVM (KVM_IOAPIC_NUM_PINS).
    public static let lineCount = 24
    private let vm: KVMDescriptor
    private var vmFD: Int32 { vm.fd }
    private let irqfds: KVMIRQFD

    init(vm: KVMDescriptor) {
        self.vm = vm
        irqfds = KVMIRQFD(vm: vm)
    }

    public func route(_ event: EventNotifier, to message: MSIMessage) -> Bool { irqfds.route(event, to: message) }

    public func setLine(_ line: Int, high: Bool) {
        guard (0..<Self.lineCount).contains(line) else { return }
        var level = ckvm_irq_level(UInt32(line), high ? 1 : 0)
        // Cannot fail for a valid GSI on a VM with an irqchip, which this object's existence implies.
        _ = ckvm_ioctl(vmFD, CKVM_IRQ_LINE, &level)
    }

    /// KVM decodes the address/data pair into an APIC message itself (api.rst: KVM_SIGNAL_MSI);
    /// its result (delivered, or blocked by the guest's masks) is the guest's business.
    public func send(_ message: MSIMessage) {
        var msi = kvm_msi()
        msi.address_lo = UInt32(truncatingIfNeeded: message.address)
        msi.address_hi = UInt32(truncatingIfNeeded: message.address >> 32)
        msi.data = message.data
        _ = ckvm_ioctl(vmFD, CKVM_SIGNAL_MSI, &msi)
    }

    /// One 8259's state as KVM_GET_IRQCHIP reports it.
    public struct PICState: Equatable, Sendable {
        public let interruptRequest: UInt8
        public let inService: UInt8
        public let interruptMask: UInt8
        public let vectorBase: UInt8
    }

    /// The IOAPIC's redirection table and pending-request bits.
    public struct IOAPICState: Equatable, Sendable {
        public let redirectionTable: [UInt64]
        public let interruptRequest: UInt32
    }

    public func picState(secondary: Bool) throws -> PICState {
        var chip = kvm_irqchip()
        chip.chip_id = UInt32(secondary ? KVM_IRQCHIP_PIC_SLAVE : KVM_IRQCHIP_PIC_MASTER)
        try KVMIoctl.call(vmFD, CKVM_GET_IRQCHIP, &chip, "KVM_GET_IRQCHIP")
        let pic = chip.chip.pic
        return PICState(interruptRequest: pic.irr, inService: pic.isr, interruptMask: pic.imr, vectorBase: pic.irq_base)
    }

    public func ioapicState() throws -> IOAPICState {
        var chip = kvm_irqchip()
        chip.chip_id = UInt32(KVM_IRQCHIP_IOAPIC)
        try KVMIoctl.call(vmFD, CKVM_GET_IRQCHIP, &chip, "KVM_GET_IRQCHIP")
        let table = (0..<UInt32(Self.lineCount)).map { ckvm_ioapic_redirection_entry(&chip, $0) }
        return IOAPICState(redirectionTable: table, interruptRequest: chip.chip.ioapic.irr)
    }
}
