// The baseline vmm's KVM backend is measured against: the least a VMM can do per exit.
//
// Loads a Multiboot ELF32 guest, enters it in flat 32-bit protected mode exactly as vmm does
// (GDT at 0x500 with code 0x10 / data 0x18, EAX = 0x2BADB002, EBX = Multiboot info at 0x10000;
// Multiboot spec 0.6.96, 3.2) and runs a bare KVM_RUN loop:
//   port 0x3fd read  -> 0x60 (16550 LSR: transmitter empty)     port 0x3f8 write -> stdout
//   port 0xf4 write  -> exit with (value << 1) | 1 (QEMU isa-debug-exit)
//   MMIO read        -> 0, except 0xD0000008 -> "VMMT", the magic of vmm's test device
//                       (Tests/Guests/runtime/include/test_device.h), so exitbench times MMIO too
//   other accesses   -> reads all ones, writes ignored
// On exit it prints the exit count and wall time to stderr. KVM's API: Documentation/virt/kvm/api.rst.
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MEMORY_SIZE (256ul << 20)
#define GDT_ADDRESS 0x500
#define MULTIBOOT_INFO 0x10000
#define MULTIBOOT_COMMAND_LINE 0x20000
#define MULTIBOOT_BOOTLOADER_MAGIC 0x2BADB002u
#define TEST_MMIO_MAGIC_ADDRESS 0xD0000008u
#define TEST_DEVICE_MAGIC 0x564D4D54u

__attribute__((noreturn)) static void die(const char *what) {
    fprintf(stderr, "kvm-exit-loop: %s: %s\n", what, strerror(errno));
    exit(1);
}

__attribute__((noreturn)) static void fail(const char *what) {
    fprintf(stderr, "kvm-exit-loop: %s\n", what);
    exit(1);
}

// Copies the PT_LOAD segments of a 32-bit x86 ELF to their physical addresses; returns the entry.
static uint32_t load_elf32(const char *path, uint8_t *memory) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) die(path);
    struct stat st;
    if (fstat(fd, &st) < 0) die(path);
    size_t size = (size_t)st.st_size;
    uint8_t *image = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (image == MAP_FAILED) die(path);
    close(fd);
    const Elf32_Ehdr *header = (const Elf32_Ehdr *)image;
    if (size < sizeof *header || memcmp(header->e_ident, ELFMAG, SELFMAG) != 0 ||
        header->e_ident[EI_CLASS] != ELFCLASS32 || header->e_machine != EM_386)
        fail("not a 32-bit x86 ELF file");
    if (header->e_phentsize != sizeof(Elf32_Phdr) || header->e_phoff > size ||
        (size - header->e_phoff) / sizeof(Elf32_Phdr) < header->e_phnum)
        fail("malformed ELF program header table");
    const Elf32_Phdr *segments = (const Elf32_Phdr *)(image + header->e_phoff);
    for (unsigned i = 0; i < header->e_phnum; i++) {
        const Elf32_Phdr *segment = &segments[i];
        if (segment->p_type != PT_LOAD) continue;
        if (segment->p_filesz > segment->p_memsz || segment->p_offset > size ||
            size - segment->p_offset < segment->p_filesz || segment->p_paddr > MEMORY_SIZE ||
            MEMORY_SIZE - segment->p_paddr < segment->p_memsz)
            fail("an ELF segment lies outside the file or guest memory");
        memcpy(memory + segment->p_paddr, image + segment->p_offset, segment->p_filesz);
        memset(memory + segment->p_paddr + segment->p_filesz, 0, segment->p_memsz - segment->p_filesz);
    }
    uint32_t entry = header->e_entry;
    munmap(image, size);
    return entry;
}

static void write_boot_tables(uint8_t *memory, const char *command_line) {
    // null, null, code32 (0x10), data (0x18): flat 4 GiB, as vmm's BootGDT.
    static const uint64_t gdt[] = {0, 0, 0x00cf9b000000ffffull, 0x00cf93000000ffffull};
    memcpy(memory + GDT_ADDRESS, gdt, sizeof gdt);
    // Multiboot info (spec 3.3): flags bit 0 = mem_lower/mem_upper in KiB, bit 2 = cmdline.
    size_t length = strnlen(command_line, 4095);
    memcpy(memory + MULTIBOOT_COMMAND_LINE, command_line, length);
    memory[MULTIBOOT_COMMAND_LINE + length] = 0;
    uint32_t info[5] = {1 | 4, 640, (uint32_t)((MEMORY_SIZE >> 10) - 1024), 0, MULTIBOOT_COMMAND_LINE};
    memcpy(memory + MULTIBOOT_INFO, info, sizeof info);
}

static struct kvm_segment flat_segment(uint16_t selector, uint8_t type) {
    struct kvm_segment segment = {
        .base = 0, .limit = 0xffffffff, .selector = selector, .type = type,
        .present = 1, .dpl = 0, .db = 1, .s = 1, .l = 0, .g = 1,
    };
    return segment;
}

static void enter_protected_mode(int vcpu, uint32_t entry) {
    struct kvm_sregs sregs;
    if (ioctl(vcpu, KVM_GET_SREGS, &sregs) < 0) die("KVM_GET_SREGS");
    sregs.cs = flat_segment(0x10, 0xb);
    sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = flat_segment(0x18, 0x3);
    sregs.gdt.base = GDT_ADDRESS;
    sregs.gdt.limit = 4 * 8 - 1;
    sregs.idt.base = 0;
    sregs.idt.limit = 0;
    sregs.cr0 = 0x11; // PE | ET
    sregs.cr4 = 0;
    sregs.efer = 0;
    if (ioctl(vcpu, KVM_SET_SREGS, &sregs) < 0) die("KVM_SET_SREGS");
    struct kvm_regs regs = {.rip = entry, .rflags = 2, .rax = MULTIBOOT_BOOTLOADER_MAGIC, .rbx = MULTIBOOT_INFO};
    if (ioctl(vcpu, KVM_SET_REGS, &regs) < 0) die("KVM_SET_REGS");
}

// Gives the guest what KVM supports, as vmm does, so CPUID-dependent guests behave alike.
static void set_cpuid(int kvm, int vcpu) {
    int count = 256;
    struct kvm_cpuid2 *cpuid = calloc(1, sizeof *cpuid + count * sizeof(struct kvm_cpuid_entry2));
    if (!cpuid) fail("out of memory");
    cpuid->nent = count;
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, cpuid) < 0) die("KVM_GET_SUPPORTED_CPUID");
    if (ioctl(vcpu, KVM_SET_CPUID2, cpuid) < 0) die("KVM_SET_CPUID2");
    free(cpuid);
}

static double seconds_since(const struct timespec *start) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

int main(int argc, char **argv) {
    if (argc != 2 && argc != 3) {
        fprintf(stderr, "usage: %s GUEST.elf [COMMAND-LINE]   (a Multiboot ELF32 kernel)\n", argv[0]);
        return 2;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0) die("/dev/kvm");
    if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) fail("unexpected KVM API version");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0) die("KVM_CREATE_VM");
    // Needed by VT-x hosts without unrestricted guest; inside the MMIO hole, away from RAM.
    uint64_t identity_map = 0xfffbc000;
    if (ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &identity_map) < 0) die("KVM_SET_IDENTITY_MAP_ADDR");
    if (ioctl(vm, KVM_SET_TSS_ADDR, 0xfffbd000ul) < 0) die("KVM_SET_TSS_ADDR");

    uint8_t *memory = mmap(NULL, MEMORY_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (memory == MAP_FAILED) die("mmap guest memory");
    struct kvm_userspace_memory_region region = {
        .slot = 0, .guest_phys_addr = 0, .memory_size = MEMORY_SIZE, .userspace_addr = (uint64_t)memory,
    };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0) die("KVM_SET_USER_MEMORY_REGION");

    uint32_t entry = load_elf32(argv[1], memory);
    write_boot_tables(memory, argc == 3 ? argv[2] : "");

    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0) die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run)) die("KVM_GET_VCPU_MMAP_SIZE");
    struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED) die("mmap kvm_run");
    set_cpuid(kvm, vcpu);
    enter_protected_mode(vcpu, entry);

    unsigned long exits = 0, io_exits = 0, mmio_exits = 0;
    int status = 0;
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int running = 1; running;) {
        if (ioctl(vcpu, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) continue;
            die("KVM_RUN");
        }
        exits++;
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            io_exits++;
            uint8_t *data = (uint8_t *)run + run->io.data_offset;
            for (uint32_t i = 0; i < run->io.count; i++, data += run->io.size) {
                if (run->io.direction == KVM_EXIT_IO_IN) {
                    memset(data, run->io.port == 0x3fd ? 0x60 : 0xff, run->io.size);
                    if (run->io.port == 0x3fd && run->io.size > 1) memset(data + 1, 0, run->io.size - 1);
                } else if (run->io.port == 0x3f8) {
                    fputc(data[0], stdout);
                } else if (run->io.port == 0xf4) {
                    uint32_t value = 0;
                    memcpy(&value, data, run->io.size);
                    status = (int)((value << 1) | 1);
                    running = 0;
                }
            }
            break;
        }
        case KVM_EXIT_MMIO:
            mmio_exits++;
            if (!run->mmio.is_write) {
                uint32_t value = run->mmio.phys_addr == TEST_MMIO_MAGIC_ADDRESS ? TEST_DEVICE_MAGIC : 0;
                memset(run->mmio.data, 0, sizeof run->mmio.data);
                memcpy(run->mmio.data, &value, run->mmio.len < 4 ? run->mmio.len : 4);
            }
            break;
        case KVM_EXIT_HLT:
            running = 0;
            break;
        case KVM_EXIT_SHUTDOWN:
            fail("the guest shut down (triple fault)");
        case KVM_EXIT_FAIL_ENTRY:
            fprintf(stderr, "kvm-exit-loop: VM entry failed, reason 0x%llx\n",
                    (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            return 1;
        case KVM_EXIT_INTERNAL_ERROR:
            fprintf(stderr, "kvm-exit-loop: KVM internal error, suberror %u\n", run->internal.suberror);
            return 1;
        default:
            fprintf(stderr, "kvm-exit-loop: unexpected exit reason %u\n", run->exit_reason);
            return 1;
        }
    }
    double seconds = seconds_since(&start);
    fflush(stdout);
    fprintf(stderr, "kvm-exit-loop: %lu exits (%lu port I/O, %lu MMIO) in %.3f s: %.0f ns per exit\n",
            exits, io_exits, mmio_exits, seconds, exits ? seconds * 1e9 / (double)exits : 0.0);
    return status;
}
