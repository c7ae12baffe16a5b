// linux/kvm.h for Swift. Swift cannot evaluate the _IO/_IOR/_IOW/_IOWR macros, so each ioctl
// number vmm uses is re-exported as a constant here (Documentation/virt/kvm/api.rst).
// kvm_run keeps its per-exit data in an anonymous union of anonymous structs, which Swift can only
// reach through copies; the accessors below hand out the fields in place instead.
#ifndef CKVM_H
#define CKVM_H
#include <linux/kvm.h>
#include <stdint.h>
#include <sys/ioctl.h>

// System ioctls.
static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
static const unsigned long CKVM_CREATE_VM = KVM_CREATE_VM;
static const unsigned long CKVM_CHECK_EXTENSION = KVM_CHECK_EXTENSION;
static const unsigned long CKVM_GET_VCPU_MMAP_SIZE = KVM_GET_VCPU_MMAP_SIZE;
static const unsigned long CKVM_GET_SUPPORTED_CPUID = KVM_GET_SUPPORTED_CPUID;

// VM ioctls.
static const unsigned long CKVM_CREATE_VCPU = KVM_CREATE_VCPU;
static const unsigned long CKVM_SET_USER_MEMORY_REGION = KVM_SET_USER_MEMORY_REGION;
static const unsigned long CKVM_SET_TSS_ADDR = KVM_SET_TSS_ADDR;
static const unsigned long CKVM_SET_IDENTITY_MAP_ADDR = KVM_SET_IDENTITY_MAP_ADDR;
static const unsigned long CKVM_ENABLE_CAP = KVM_ENABLE_CAP;
static const unsigned long CKVM_X86_SET_MSR_FILTER = KVM_X86_SET_MSR_FILTER;
static const unsigned long CKVM_XEN_HVM_CONFIG = KVM_XEN_HVM_CONFIG;
static const unsigned long CKVM_CREATE_IRQCHIP = KVM_CREATE_IRQCHIP;
static const unsigned long CKVM_CREATE_PIT2 = KVM_CREATE_PIT2;
static const unsigned long CKVM_IRQ_LINE = KVM_IRQ_LINE;
static const unsigned long CKVM_SIGNAL_MSI = KVM_SIGNAL_MSI;
static const unsigned long CKVM_GET_IRQCHIP = KVM_GET_IRQCHIP;
static const unsigned long CKVM_IOEVENTFD = KVM_IOEVENTFD;
static const unsigned long CKVM_IRQFD = KVM_IRQFD;
static const uint32_t CKVM_IOEVENTFD_FLAG_DATAMATCH = KVM_IOEVENTFD_FLAG_DATAMATCH;
static const uint32_t CKVM_IOEVENTFD_FLAG_PIO = KVM_IOEVENTFD_FLAG_PIO;
static const uint32_t CKVM_IOEVENTFD_FLAG_DEASSIGN = KVM_IOEVENTFD_FLAG_DEASSIGN;
static const uint32_t CKVM_IRQFD_FLAG_DEASSIGN = KVM_IRQFD_FLAG_DEASSIGN;

// vCPU ioctls.
static const unsigned long CKVM_RUN = KVM_RUN;
static const unsigned long CKVM_GET_REGS = KVM_GET_REGS;
static const unsigned long CKVM_SET_REGS = KVM_SET_REGS;
static const unsigned long CKVM_GET_SREGS = KVM_GET_SREGS;
static const unsigned long CKVM_SET_SREGS = KVM_SET_SREGS;
static const unsigned long CKVM_GET_DEBUGREGS = KVM_GET_DEBUGREGS;
static const unsigned long CKVM_SET_DEBUGREGS = KVM_SET_DEBUGREGS;
static const unsigned long CKVM_SET_CPUID2 = KVM_SET_CPUID2;
static const unsigned long CKVM_GET_VCPU_EVENTS = KVM_GET_VCPU_EVENTS;
static const unsigned long CKVM_SET_VCPU_EVENTS = KVM_SET_VCPU_EVENTS;
static const unsigned long CKVM_INTERRUPT = KVM_INTERRUPT;
static const unsigned long CKVM_NMI = KVM_NMI;
static const unsigned long CKVM_GET_LAPIC = KVM_GET_LAPIC;
static const unsigned long CKVM_SET_GUEST_DEBUG = KVM_SET_GUEST_DEBUG;
static const unsigned long CKVM_GET_FPU = KVM_GET_FPU;

// ioctl(2) is variadic, which Swift cannot call; these fix its third argument's type.
static inline int ckvm_ioctl(int fd, unsigned long request, void *argument) {
    return ioctl(fd, request, argument);
}
static inline int ckvm_ioctl_value(int fd, unsigned long request, unsigned long argument) {
    return ioctl(fd, request, argument);
}

// kvm_run->immediate_exit is written by a kicking thread while the vCPU thread may be about to enter
// KVM_RUN: sequentially consistent atomics order it against the state the kick announces.
static inline void ckvm_request_immediate_exit(struct kvm_run *run) {
    __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}
static inline void ckvm_clear_immediate_exit(struct kvm_run *run) {
    __atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
}

// KVM_EXIT_IO (api.rst, "The kvm_run structure").
static inline uint8_t ckvm_io_direction(const struct kvm_run *run) { return run->io.direction; }
static inline uint8_t ckvm_io_size(const struct kvm_run *run) { return run->io.size; }
static inline uint16_t ckvm_io_port(const struct kvm_run *run) { return run->io.port; }
static inline uint32_t ckvm_io_count(const struct kvm_run *run) { return run->io.count; }
static inline uint64_t ckvm_io_data_offset(const struct kvm_run *run) { return run->io.data_offset; }

// KVM_EXIT_MMIO.
static inline uint64_t ckvm_mmio_address(const struct kvm_run *run) { return run->mmio.phys_addr; }
static inline uint32_t ckvm_mmio_length(const struct kvm_run *run) { return run->mmio.len; }
static inline uint8_t ckvm_mmio_is_write(const struct kvm_run *run) { return run->mmio.is_write; }
static inline uint8_t *ckvm_mmio_data(struct kvm_run *run) { return run->mmio.data; }

// KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR.
static inline uint32_t ckvm_msr_index(const struct kvm_run *run) { return run->msr.index; }
static inline uint64_t ckvm_msr_data(const struct kvm_run *run) { return run->msr.data; }
static inline void ckvm_msr_complete(struct kvm_run *run, uint64_t data, uint8_t error) {
    run->msr.data = data;
    run->msr.error = error;
}

// KVM_EXIT_FAIL_ENTRY, KVM_EXIT_UNKNOWN.
static inline uint64_t ckvm_fail_entry_reason(const struct kvm_run *run) {
    return run->fail_entry.hardware_entry_failure_reason;
}
static inline uint64_t ckvm_hardware_exit_reason(const struct kvm_run *run) { return run->hw.hardware_exit_reason; }

// KVM_EXIT_INTERNAL_ERROR: data[] holds ndata words whose meaning depends on the suberror.
static inline uint32_t ckvm_internal_suberror(const struct kvm_run *run) { return run->internal.suberror; }
static inline uint32_t ckvm_internal_ndata(const struct kvm_run *run) { return run->internal.ndata; }
static inline uint64_t ckvm_internal_data(const struct kvm_run *run, uint32_t index) {
    return index < 16 ? run->internal.data[index] : 0;
}

// KVM_EXIT_SYSTEM_EVENT.
static inline uint32_t ckvm_system_event_type(const struct kvm_run *run) { return run->system_event.type; }

// KVM_EXIT_DEBUG.
static inline uint32_t ckvm_debug_exception(const struct kvm_run *run) { return run->debug.arch.exception; }
static inline uint64_t ckvm_debug_pc(const struct kvm_run *run) { return run->debug.arch.pc; }
static inline uint64_t ckvm_debug_dr6(const struct kvm_run *run) { return run->debug.arch.dr6; }

// KVM_IRQ_LINE's kvm_irq_level keeps the line number in an anonymous union with the status.
static inline struct kvm_irq_level ckvm_irq_level(uint32_t irq, uint32_t level) {
    struct kvm_irq_level line = {.irq = irq, .level = level};
    return line;
}

// KVM_GET_IRQCHIP's IOAPIC redirection table is an array of anonymous unions, which Swift drops.
static inline uint64_t ckvm_ioapic_redirection_entry(const struct kvm_irqchip *chip, uint32_t pin) {
    return pin < KVM_IOAPIC_NUM_PINS ? chip->chip.ioapic.redirtbl[pin].bits : 0;
}

// KVM_GET_MSRS/KVM_SET_MSRS take a kvm_msrs header followed by its entries; one MSR at a time.
int ckvm_get_msr(int vcpu_fd, uint32_t index, uint64_t *value);
// One irqfd's GSI and the MSI it raises (KVM_IRQ_ROUTING_MSI's fields).
struct ckvm_msi_route {
    uint32_t gsi;
    uint32_t address_lo;
    uint32_t address_hi;
    uint32_t data;
};
int ckvm_set_gsi_routing(int vm_fd, const struct ckvm_msi_route *routes, uint32_t count);
int ckvm_set_msr(int vcpu_fd, uint32_t index, uint64_t value);

// Installs an empty handler for `signal` once per process, so that sending it to a vCPU thread
// makes KVM_RUN return -EINTR. Returns 0 or an errno value.
int ckvm_install_kick_handler(int signal);
#endif
