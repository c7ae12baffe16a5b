/* The paging checks shared by the 32-bit PAE and the 64-bit guests: both map test pages at
 * TEST_BASE (1 GiB) through one page table whose entries have the same format (SDM vol. 3,
 * tables 4-11 and 4-19). */
#ifndef SYS_PAGING_PAGES_H
#define SYS_PAGING_PAGES_H
#include "sys_runtime.h"

#define PTE_P (1ull << 0)
#define PTE_RW (1ull << 1)
#define PTE_US (1ull << 2)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_PS (1ull << 7)
#define PTE_XD (1ull << 63)
/* Reserved in a PAE PTE whatever MAXPHYADDR is (bit 62; vol. 3, table 4-11), and beyond any
 * MAXPHYADDR QEMU or vmm report in a 4-level PTE (bit 51 needs MAXPHYADDR 52). */
#ifdef __x86_64__
#define PTE_RESERVED (1ull << 51)
#else
#define PTE_RESERVED (1ull << 62)
#endif

#define TEST_BASE 0x40000000u
enum { PAGE_NORMAL, PAGE_ABSENT, PAGE_READ_ONLY, PAGE_SUPERVISOR, PAGE_NO_EXECUTE, PAGE_RESERVED, PAGE_USER_READ_ONLY, TEST_PAGES };
#define TEST_PAGE(n) (TEST_BASE + (n) * 4096u)

static uint64_t test_table[512] __attribute__((aligned(4096)));
static uint8_t test_frames[TEST_PAGES][4096] __attribute__((aligned(4096)));

static void fill_test_table(void)
{
    static const uint64_t flags[TEST_PAGES] = {
        [PAGE_NORMAL] = PTE_P | PTE_RW | PTE_US,
        [PAGE_ABSENT] = PTE_RW | PTE_US,
        [PAGE_READ_ONLY] = PTE_P | PTE_US,
        [PAGE_SUPERVISOR] = PTE_P | PTE_RW,
        [PAGE_NO_EXECUTE] = PTE_P | PTE_RW | PTE_US | PTE_XD,
        [PAGE_RESERVED] = PTE_P | PTE_RW | PTE_US | PTE_RESERVED,
        [PAGE_USER_READ_ONLY] = PTE_P | PTE_US,
    };
    for (int page = 0; page < TEST_PAGES; page++) {
        test_table[page] = (uintptr_t)test_frames[page] | flags[page];
        test_frames[page][0] = 0xc3; /* RET, for the fetch checks */
    }
}

static volatile uint32_t sink;
static void read_normal(void) { sink = *(volatile uint32_t *)(TEST_PAGE(PAGE_NORMAL) + 0x10); }
static void write_normal(void) { *(volatile uint32_t *)(TEST_PAGE(PAGE_NORMAL) + 0x20) = 1; }
static void read_absent(void) { sink = *(volatile uint32_t *)(TEST_PAGE(PAGE_ABSENT) + 0x30); }
static void write_absent(void) { *(volatile uint32_t *)(TEST_PAGE(PAGE_ABSENT) + 0x40) = 1; }
static void write_read_only(void) { *(volatile uint32_t *)(TEST_PAGE(PAGE_READ_ONLY) + 0x50) = 1; }
static void fetch_no_execute(void) { ((void (*)(void))(uintptr_t)TEST_PAGE(PAGE_NO_EXECUTE))(); }
static void read_reserved(void) { sink = *(volatile uint32_t *)(TEST_PAGE(PAGE_RESERVED) + 0x60); }
static void fetch_normal(void) { ((void (*)(void))(uintptr_t)TEST_PAGE(PAGE_NORMAL))(); }

#define USER_TOUCH(name, instruction, page, offset)                                                     \
    static void name(void)                                                                             \
    {                                                                                                  \
        __asm__ volatile(instruction "\n\tint $0x80" : : "r"((uintptr_t)TEST_PAGE(page) + (offset)) : "memory"); \
        __builtin_unreachable();                                                                       \
    }
USER_TOUCH(user_read_supervisor, "mov (%0), %%eax", PAGE_SUPERVISOR, 0x70)
USER_TOUCH(user_write_read_only, "movl $1, (%0)", PAGE_USER_READ_ONLY, 0x80)
USER_TOUCH(user_write_supervisor, "movl $1, (%0)", PAGE_SUPERVISOR, 0x90)
USER_TOUCH(user_read_normal, "mov (%0), %%eax", PAGE_NORMAL, 0xa0)

static void report_fault(const char *name, void (*fn)(void), int user)
{
    write_cr2(0);
    if (user) report_user(name, fn); else report_trap(name, fn);
    printf("  cr2=0x%lx\n", (unsigned long)last_trap.cr2);
}

/* A reserved-bit fault's error code has P set (SDM vol. 3, 4.7); QEMU 7.2's TCG leaves it clear,
 * so these lines print the code without P to stay comparable. */
static void report_reserved_fault(const char *name, void (*fn)(void))
{
    write_cr2(0);
    last_trap.count = 0;
    int trapped = probe(fn);
    printf("%s: trapped=%d vector=%u error&~P=0x%x cr2=0x%lx\n", name, trapped, last_trap.vector,
           last_trap.error & ~1u, (unsigned long)last_trap.cr2);
}

static void report_bits(const char *what, uint64_t entry)
{
    printf("  %s: accessed=%d dirty=%d\n", what, (int)((entry & PTE_A) != 0), (int)((entry & PTE_D) != 0));
}

/* `directory` holds the PDE that points at test_table. */
static void run_paging_checks(uint64_t *directory, int nx)
{
    directory[0] &= ~(PTE_A | PTE_D);
    test_table[PAGE_NORMAL] &= ~(PTE_A | PTE_D);
    invlpg(TEST_PAGE(PAGE_NORMAL));
    report_fault("read a present page", read_normal, 0);
    report_bits("pte after read", test_table[PAGE_NORMAL]);
    report_bits("pde after read", directory[0]);
    report_fault("write a present page", write_normal, 0);
    report_bits("pte after write", test_table[PAGE_NORMAL]);
    report_fault("fetch from a present page", fetch_normal, 0);
    report_fault("#PF read not present", read_absent, 0);
    report_fault("#PF write not present", write_absent, 0);
    report_fault("#PF supervisor write read-only (CR0.WP=1)", write_read_only, 0);
    report_bits("read-only pte after the faulting write", test_table[PAGE_READ_ONLY]);
    if (nx) {
        report_fault("#PF fetch from an XD page", fetch_no_execute, 0);
        printf("  fault ip is the page: %d\n", last_trap.ip == TEST_PAGE(PAGE_NO_EXECUTE));
    }
    report_reserved_fault("#PF reserved bit set in a PTE", read_reserved);
    report_fault("#PF user read of a supervisor page", user_read_supervisor, 1);
    report_fault("#PF user write of a user read-only page", user_write_read_only, 1);
    report_fault("#PF user write of a supervisor page", user_write_supervisor, 1);
    report_fault("user read of a user page", user_read_normal, 1);
    /* CR0.WP=0: supervisor writes ignore R/W (4.6.1). */
    write_cr0(read_cr0() & ~(1u << 16));
    report_fault("supervisor write read-only (CR0.WP=0)", write_read_only, 0);
    report_bits("read-only pte after the write", test_table[PAGE_READ_ONLY]);
    write_cr0(read_cr0() | (1u << 16));
}

#endif
