#include "CKVM.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

// A kvm_msrs header with room for exactly one entry.
union one_msr {
    struct kvm_msrs msrs;
    unsigned char storage[sizeof(struct kvm_msrs) + sizeof(struct kvm_msr_entry)];
};

// Both return 1 (the number of MSRs processed) on success, 0 when KVM refused the index, -1 on error.
int ckvm_get_msr(int vcpu_fd, uint32_t index, uint64_t *value) {
    union one_msr buffer;
    memset(&buffer, 0, sizeof buffer);
    buffer.msrs.nmsrs = 1;
    buffer.msrs.entries[0].index = index;
    int result = ioctl(vcpu_fd, KVM_GET_MSRS, &buffer);
    if (result == 1) *value = buffer.msrs.entries[0].data;
    return result;
}

int ckvm_set_msr(int vcpu_fd, uint32_t index, uint64_t value) {
    union one_msr buffer;
    memset(&buffer, 0, sizeof buffer);
    buffer.msrs.nmsrs = 1;
    buffer.msrs.entries[0].index = index;
    buffer.msrs.entries[0].data = value;
    return ioctl(vcpu_fd, KVM_SET_MSRS, &buffer);
}

static void ignore_kick(int signal) { (void)signal; }

static pthread_once_t kick_handler_once = PTHREAD_ONCE_INIT;
static int kick_signal;
static int kick_handler_error;

static void install_kick_handler(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = ignore_kick;
    sigemptyset(&action.sa_mask);
    // SA_RESTART: KVM_RUN reports a pending signal as -EINTR, which the kernel never restarts, so the
    // kick still ends KVM_RUN; any other system call the vCPU thread is in (a device writing to a
    // terminal) is transparently restarted instead of failing with EINTR.
    action.sa_flags = SA_RESTART;
    if (sigaction(kick_signal, &action, NULL) != 0) kick_handler_error = errno;
}

int ckvm_install_kick_handler(int signal) {
    kick_signal = signal;
    pthread_once(&kick_handler_once, install_kick_handler);
    return kick_handler_error;
}

// The PC's GSI routing for the in-kernel irqchip, as a PC board wires it: GSIs 0-15 reach the
// 8259 pair (except 2, the cascade), and every GSI reaches the IOAPIC pin of the same number except
// GSI 0 (the PIT), which arrives on pin 2 (the ISA interrupt source override every PC declares).
// KVM's default routing puts GSI 0 on pin 0, where no guest looks for the timer. Then `count` MSI
// routes (KVM_IRQ_ROUTING_MSI), the GSIs of devices' irqfds. KVM_SET_GSI_ROUTING replaces the whole
// table, so every change passes all of them.
// Returns ioctl's result (0 on success, -1 with errno).
int ckvm_set_gsi_routing(int vm_fd, const struct ckvm_msi_route *routes, uint32_t count) {
    enum { pic_routes = 15, ioapic_routes = 23 };
    size_t total = pic_routes + ioapic_routes + count;
    struct kvm_irq_routing *routing = calloc(1, sizeof(struct kvm_irq_routing) + total * sizeof(struct kvm_irq_routing_entry));
    if (!routing) {
        errno = ENOMEM;
        return -1;
    }
    struct kvm_irq_routing_entry *entry = routing->entries;
    for (uint32_t gsi = 0; gsi < 16; gsi++) {
        if (gsi == 2) continue;
        entry->gsi = gsi;
        entry->type = KVM_IRQ_ROUTING_IRQCHIP;
        entry->u.irqchip.irqchip = gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE;
        entry->u.irqchip.pin = gsi % 8;
        entry++;
    }
    for (uint32_t gsi = 0; gsi < 24; gsi++) {
        if (gsi == 2) continue;
        entry->gsi = gsi;
        entry->type = KVM_IRQ_ROUTING_IRQCHIP;
        entry->u.irqchip.irqchip = KVM_IRQCHIP_IOAPIC;
        entry->u.irqchip.pin = gsi == 0 ? 2 : gsi;
        entry++;
    }
    for (uint32_t index = 0; index < count; index++) {
        entry->gsi = routes[index].gsi;
        entry->type = KVM_IRQ_ROUTING_MSI;
        entry->u.msi.address_lo = routes[index].address_lo;
        entry->u.msi.address_hi = routes[index].address_hi;
        entry->u.msi.data = routes[index].data;
        entry++;
    }
    routing->nr = (uint32_t)(entry - routing->entries);
    int result = ioctl(vm_fd, KVM_SET_GSI_ROUTING, routing);
    int error = errno;
    free(routing);
    errno = error;
    return result;
}
