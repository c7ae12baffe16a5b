#if canImport(Glibc)
import Glibc
#endif
import CKVM
import Synchronization
import VMMKit

/// MSIs raised from eventfds inside the kernel (api.rst: KVM_IRQFD, KVM_SET_GSI_ROUTING): each
/// routed eventfd gets a GSI above the IOAPIC's whose routing entry is its MSI (KVM_IRQ_ROUTING_MSI),
/// and an irqfd binding the two, so a device's write to the eventfd interrupts the guest without
/// vmm's sink (KVM_SIGNAL_MSI) and, for a vhost back end, without vmm at all. A new message for
/// the eventfd (the guest rewrote its MSI-X entry) rewrites the routing table. The VM's irqfds go
/// with it at a reboot; the next VM's routes are made on first use (`MSIEventRoute`).
final class KVMIRQFD: @unchecked Sendable {
    /// Past the IOAPIC's pins (KVMInKernelIRQChip.lineCount).
    static let firstGSI: UInt32 = 24
    /// KVM's smallest routing table limit (KVM_MAX_IRQ_ROUTES has been 1024 and more).
    static let lastGSI: UInt32 = 1023

    private struct Routes {
        /// By eventfd descriptor: its GSI and message.
        var routes: [Int32: ckvm_msi_route] = [:]
        var nextGSI = KVMIRQFD.firstGSI
    }

    private let vm: KVMDescriptor
    private let state = Mutex(Routes())

    init(vm: KVMDescriptor) { self.vm = vm }

    func route(_ event: EventNotifier, to message: MSIMessage) -> Bool {
        state.withLock { state in
            let descriptor = event.fileDescriptor
            let known = state.routes[descriptor]
            guard let gsi = known?.gsi ?? (state.nextGSI <= Self.lastGSI ? state.nextGSI : nil) else { return false }
            let before = state.routes
            state.routes[descriptor] = ckvm_msi_route(
                gsi: gsi, address_lo: UInt32(truncatingIfNeeded: message.address),
                address_hi: UInt32(truncatingIfNeeded: message.address >> 32), data: message.data)
            let entries = Array(state.routes.values)
            guard ckvm_set_gsi_routing(vm.fd, entries, UInt32(entries.count)) == 0 else {
                state.routes = before
                return false
            }
            if known != nil { return true }
            var irqfd = kvm_irqfd()
            irqfd.fd = UInt32(bitPattern: descriptor)
            irqfd.gsi = gsi
            guard ckvm_ioctl(vm.fd, CKVM_IRQFD, &irqfd) == 0 else {
                state.routes = before
                _ = ckvm_set_gsi_routing(vm.fd, Array(before.values), UInt32(before.count))
                return false
            }
            state.nextGSI += 1
            return true
        }
    }
}
