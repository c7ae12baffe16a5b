/* Address-space switches, as an operating system's context switch does them: "spaces=K" (default
 * 2, at most 16) page-table trees share the boot identity map (PML4 entry 0) and each map its own
 * "pages=P" (default 16, at most 512) 4 KiB pages at the same linear window, 512 GiB (PML4 entry
 * 1). One switch is a MOV to CR3 of the next tree followed by a read-modify-write of one word in
 * each of its pages; "n=N" rounds (default 20000) visit every space once. Prints the mean cycles
 * per switch, then checks that every space saw only its own pages (SDM vol. 3, 4.5 and 4.10.4.1:
 * a MOV to CR3 invalidates the non-global translations of the old tree). */
#include "../include/bench.h"

#define MAX_SPACES 16
#define MAX_PAGES 512
#define PAGE_SIZE 4096
#define PRESENT_WRITABLE 0x3
#define WINDOW 0x8000000000ull

static uint64_t tree_roots[MAX_SPACES];

static uint64_t *take_page(uintptr_t *next_free)
{
    uint64_t *page = (uint64_t *)*next_free;
    memset(page, 0, PAGE_SIZE);
    *next_free += PAGE_SIZE;
    return page;
}

static uint64_t read_cr3(void)
{
    uint64_t value;
    __asm__ volatile("mov %%cr3, %0" : "=r"(value));
    return value;
}

static void write_cr3(uint64_t value) { __asm__ volatile("mov %0, %%cr3" : : "r"(value) : "memory"); }

/* Builds tree `space`: PML4 -> PDPT -> PD -> one page table of `pages` data pages. */
static void build_tree(uint32_t space, uint32_t pages, const uint64_t *boot_pml4, uintptr_t *next_free)
{
    uint64_t *pml4 = take_page(next_free), *pdpt = take_page(next_free);
    uint64_t *directory = take_page(next_free), *table = take_page(next_free);
    pml4[0] = boot_pml4[0];
    pml4[1] = (uintptr_t)pdpt | PRESENT_WRITABLE;
    pdpt[0] = (uintptr_t)directory | PRESENT_WRITABLE;
    directory[0] = (uintptr_t)table | PRESENT_WRITABLE;
    for (uint32_t page = 0; page < pages; page++) table[page] = (uintptr_t)take_page(next_free) | PRESENT_WRITABLE;
    tree_roots[space] = (uintptr_t)pml4;
}

void guest_main(void)
{
    uint32_t spaces = (uint32_t)cmdline_number("spaces", 2);
    uint32_t pages = (uint32_t)cmdline_number("pages", 16);
    uint64_t rounds = cmdline_number("n", 20000);
    if (spaces < 1 || spaces > MAX_SPACES) fail("spaces=%u is outside 1..%u", spaces, MAX_SPACES);
    if (pages < 1 || pages > MAX_PAGES) fail("pages=%u is outside 1..%u", pages, MAX_PAGES);
    if (rounds < 1) fail("n must be at least 1");
    uintptr_t next_free = image_end();
    uint64_t needed = (uint64_t)spaces * (pages + 4) * PAGE_SIZE;
    if (next_free + needed > 0x100000 + (boot_mem_upper_kib() << 10)) fail("not enough RAM for the trees");

    uint64_t boot_root = read_cr3();
    for (uint32_t space = 0; space < spaces; space++)
        build_tree(space, pages, (const uint64_t *)(uintptr_t)boot_root, &next_free);

    uint64_t start = rdtsc();
    for (uint64_t round = 0; round < rounds; round++) {
        for (uint32_t space = 0; space < spaces; space++) {
            write_cr3(tree_roots[space]);
            for (uint32_t page = 0; page < pages; page++) *(volatile uint64_t *)(WINDOW + page * PAGE_SIZE) += space + 1;
        }
    }
    uint64_t cycles = rdtsc() - start;
    report("switch", udivmod64(cycles, rounds * spaces, 0));

    for (uint32_t space = 0; space < spaces; space++) {
        write_cr3(tree_roots[space]);
        for (uint32_t page = 0; page < pages; page++)
            CHECK_EQ("a word in this space's page", *(volatile uint64_t *)(WINDOW + page * PAGE_SIZE), rounds * (space + 1));
    }
    write_cr3(boot_root);
}
