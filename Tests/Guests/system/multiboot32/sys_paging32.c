/* PAE paging in 32-bit protected mode (Intel SDM vol. 3, 4.4 and 4.7): page-fault error codes
 * for not-present, write, user, instruction-fetch (XD) and reserved-bit faults, CR2, and the
 * accessed and dirty bits the walk sets (4.8). */
#include "../sys_runtime.c"
#include "../sys_paging_pages.h"

/* PAE PDPTEs have only P and the address: RW/US are reserved there (4.4.1). */
static uint64_t pdpt[4] __attribute__((aligned(32)));
static uint64_t identity_directory[512] __attribute__((aligned(4096)));
static uint64_t test_directory[512] __attribute__((aligned(4096)));

void guest_main(void)
{
    system_setup(0x80);
    printf("system: paging, 32-bit PAE\n");
    for (uint64_t i = 0; i < 512; i++) identity_directory[i] = (i << 21) | PTE_P | PTE_RW | PTE_US | PTE_PS;
    test_directory[0] = (uintptr_t)test_table | PTE_P | PTE_RW | PTE_US;
    pdpt[0] = (uintptr_t)identity_directory | PTE_P;
    pdpt[1] = (uintptr_t)test_directory | PTE_P;
    fill_test_table();
    uint32_t a, b, c, d;
    cpuid(0x80000001, &a, &b, &c, &d);
    int nx = (d >> 20) & 1;
    printf("cpuid: nx=%d\n", nx);
    if (nx) wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_NXE);
    write_cr4(read_cr4() | (1u << 5));
    write_cr3((uintptr_t)pdpt);
    write_cr0(read_cr0() | (1u << 31) | (1u << 16));
    printf("paging on: cr0.pg=%lu cr0.wp=%lu\n", (unsigned long)(read_cr0() >> 31) & 1, (unsigned long)(read_cr0() >> 16) & 1);
    run_paging_checks(test_directory, nx);
}
