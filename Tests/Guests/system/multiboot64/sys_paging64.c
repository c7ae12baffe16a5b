/* 4-level paging in 64-bit mode (Intel SDM vol. 3, 4.5 and 4.7): the same page-fault checks as
 * the PAE guest, plus a reserved bit in a PML4 entry (PS must be 0 there). */
#include "../sys_runtime.c"
#include "../sys_paging_pages.h"

#define RESERVED_PML4_BASE 0x8000000000ull
static void read_through_reserved_pml4e(void) { sink = *(volatile uint32_t *)(uintptr_t)(RESERVED_PML4_BASE + 0x123); }
/* A PML4 entry with a reserved address bit over a table of not-present entries: the walk ends at
 * the reserved bit, so the fault is RSVD, not a not-present one from the level below (4.7). */
#define RESERVED_ABOVE_ABSENT_BASE 0x10000000000ull
static uint64_t absent_table[512] __attribute__((aligned(4096)));
static void read_reserved_above_absent(void) { sink = *(volatile uint32_t *)(uintptr_t)(RESERVED_ABOVE_ABSENT_BASE + 0x45); }

void guest_main(void)
{
    system_setup(0x80);
    printf("system: paging, 64-bit 4-level\n");
    test_directory[0] = (uintptr_t)test_table | PTE_P | PTE_RW | PTE_US;
    pml4[1] = (uintptr_t)test_table | PTE_P | PTE_RW | PTE_PS;
    pml4[2] = (uintptr_t)absent_table | PTE_P | PTE_RW | PTE_RESERVED;
    fill_test_table();
    uint32_t a, b, c, d;
    cpuid(0x80000001, &a, &b, &c, &d);
    int nx = (d >> 20) & 1;
    printf("cpuid: nx=%d\n", nx);
    if (nx) wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr3((uintptr_t)pml4);
    write_cr0(read_cr0() | (1u << 16));
    run_paging_checks(test_directory, nx);
    report_reserved_fault("#PF PS set in a PML4 entry", read_through_reserved_pml4e);
    report_reserved_fault("#PF reserved bit in a PML4 entry above a not-present PDPTE", read_reserved_above_absent);
}
