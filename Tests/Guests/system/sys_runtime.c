/* The system guests' shared machinery (see sys_runtime.h). Each guest includes this file once:
 * the guest build links one source (or folder) per guest, and this code sits outside the mode
 * folders so it is not a guest of its own. */
#include "sys_runtime.h"

volatile struct trap_record last_trap;
uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
word_t probe_saved_sp;
void (*volatile user_entry)(void);
uintptr_t user_stack_top;
uintptr_t kernel_stack_top;

static uint8_t kernel_stack[8192] __attribute__((aligned(16)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));

#ifdef __x86_64__
/* 64-bit TSS (SDM vol. 3, 8.7): RSP0-2, IST1-7, I/O map base. */
static struct __attribute__((packed)) {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
} tss;
static uint64_t idt[256 * 2] __attribute__((aligned(16)));
#define GATE_WORDS 2
#else
/* 32-bit TSS (SDM vol. 3, 8.2.1); only ESP0/SS0 and the I/O map base matter here. */
static struct __attribute__((packed)) {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2, cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
} tss;
static uint64_t idt[256] __attribute__((aligned(16)));
#define GATE_WORDS 1
#endif

/* The stubs: vectors 0-31 plus 0x40-0x4f and 0x80 (software-interrupt checks). Exceptions that
 * push no error code get a zero so every frame has the same shape (SDM vol. 3, 6.13). */
extern const word_t stub_table[];
#define STUB_VECTORS "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31,0x40,0x41,0x42,0x80"
#ifdef __x86_64__
#define PUSH_WORD "pushq"
#define WORD_DIRECTIVE ".quad"
#else
#define PUSH_WORD "pushl"
#define WORD_DIRECTIVE ".long"
#endif
__asm__(".text\n"
        ".macro STUB vector\n"
        "stub_\\vector:\n"
        ".if (\\vector == 8) || (\\vector >= 10 && \\vector <= 14) || (\\vector == 17) || (\\vector == 21) || (\\vector == 29) || (\\vector == 30)\n"
        ".else\n"
        "  " PUSH_WORD " $0\n"
        ".endif\n"
        "  " PUSH_WORD " $\\vector\n"
        "  jmp common_stub\n"
        ".endm\n"
        ".irp v," STUB_VECTORS "\n"
        "STUB \\v\n"
        ".endr\n"
        ".section .rodata\n"
        ".global stub_table\n"
        "stub_table:\n"
        ".irp v," STUB_VECTORS "\n"
        WORD_DIRECTIVE " stub_\\v\n"
        ".endr\n"
        ".text\n");

#ifdef __x86_64__
__asm__(".text\n"
        "common_stub:\n"
        "  push %rax; push %rcx; push %rdx; push %rbx; push %rbp; push %rsi; push %rdi\n"
        "  push %r8; push %r9; push %r10; push %r11; push %r12; push %r13; push %r14; push %r15\n"
        "  mov %rsp, %rdi\n"
        "  call trap_handler\n"
        "  pop %r15; pop %r14; pop %r13; pop %r12; pop %r11; pop %r10; pop %r9; pop %r8\n"
        "  pop %rdi; pop %rsi; pop %rbp; pop %rbx; pop %rdx; pop %rcx; pop %rax\n"
        "  add $16, %rsp\n"
        "  iretq\n"
        /* int probe(void (*fn)(void)) */
        ".global probe\n"
        "probe:\n"
        "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
        "  sub $8, %rsp\n"
        "  mov %rsp, probe_saved_sp(%rip)\n"
        "  call *%rdi\n"
        "  xor %eax, %eax\n"
        "  jmp 1f\n"
        ".global probe_resume\n"
        "probe_resume:\n"
        "  mov probe_saved_sp(%rip), %rsp\n"
        "  mov $1, %eax\n"
        "1:\n"
        "  mov $0x10, %ecx; mov %ecx, %ds; mov %ecx, %es\n"
        "  add $8, %rsp\n"
        "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
        "  ret\n"
        /* Ring 3 through IRETQ: SS, RSP, RFLAGS (IF clear), CS, RIP (SDM vol. 3, 6.14.3). */
        ".global enter_user\n"
        "enter_user:\n"
        "  pushq $0x23\n"
        "  pushq user_stack_top(%rip)\n"
        "  pushq $0x2\n"
        "  pushq $0x2b\n"
        "  pushq user_entry(%rip)\n"
        "  iretq\n");
#else
__asm__(".text\n"
        "common_stub:\n"
        "  pusha\n"
        "  mov $0x10, %eax; mov %eax, %ds; mov %eax, %es\n"
        "  push %esp\n"
        "  call trap_handler\n"
        "  add $4, %esp\n"
        "  popa\n"
        "  add $8, %esp\n"
        "  iret\n"
        ".global probe\n"
        "probe:\n"
        "  push %ebp; push %ebx; push %esi; push %edi\n"
        "  mov %esp, probe_saved_sp\n"
        "  call *20(%esp)\n"
        "  xor %eax, %eax\n"
        "  jmp 1f\n"
        ".global probe_resume\n"
        "probe_resume:\n"
        "  mov probe_saved_sp, %esp\n"
        "  mov $1, %eax\n"
        "1:\n"
        "  mov $0x10, %ecx; mov %ecx, %ds; mov %ecx, %es; mov %ecx, %ss\n"
        "  pop %edi; pop %esi; pop %ebx; pop %ebp\n"
        "  ret\n"
        ".global enter_user\n"
        "enter_user:\n"
        "  mov $0x23, %eax; mov %eax, %ds; mov %eax, %es\n"
        "  pushl $0x23\n"
        "  pushl user_stack_top\n"
        "  pushl $0x2\n"
        "  pushl $0x1b\n"
        "  pushl user_entry\n"
        "  iret\n");
#endif

void trap_handler(struct trap_frame *frame);
void trap_handler(struct trap_frame *frame)
{
    last_trap.count++;
    last_trap.vector = (uint32_t)frame->vector;
    last_trap.error = (uint32_t)frame->error;
    last_trap.ip = frame->ip;
    last_trap.cs = frame->cs & 0xffff;
    last_trap.flags = frame->flags;
    last_trap.frame = (uintptr_t)frame;
    last_trap.cr2 = read_cr2();
    last_trap.sp = (frame->cs & 3) ? frame->sp : 0;
    last_trap.ss = (frame->cs & 3) ? frame->ss & 0xffff : 0;
    /* Resume probe() at ring 0, whatever was interrupted. */
    frame->ip = (uintptr_t)probe_resume;
    frame->cs = KERNEL_CS;
    frame->flags = 0x2;
#ifdef __x86_64__
    frame->sp = probe_saved_sp;
    frame->ss = KERNEL_DS;
#endif
}

#ifdef __x86_64__
/* 4-level paging with the user bit at every level, so ring 3 may run the guest's own code:
 * the first GiB identity-mapped in 2 MiB pages, PDPT[1] (1 GiB) left to the paging checks, and
 * PML4[1] (512 GiB) free for a reserved-bit check (SDM vol. 3, 4.5). */
uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt_low[512] __attribute__((aligned(4096)));
static uint64_t identity_directory[512] __attribute__((aligned(4096)));
uint64_t test_directory[512] __attribute__((aligned(4096)));

static void paging_setup(void)
{
    for (uint64_t i = 0; i < 512; i++) identity_directory[i] = (i << 21) | 0x87; /* P RW US PS */
    pdpt_low[0] = (uintptr_t)identity_directory | 0x7;
    pdpt_low[1] = (uintptr_t)test_directory | 0x7;
    pml4[0] = (uintptr_t)pdpt_low | 0x7;
    write_cr3((uintptr_t)pml4);
}
#endif

static uint64_t segment_descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags)
{
    return (uint64_t)(limit & 0xffff) | ((uint64_t)(base & 0xffffff) << 16) | ((uint64_t)access << 40)
        | ((uint64_t)((limit >> 16) & 0xf) << 48) | ((uint64_t)(flags & 0xf) << 52) | ((uint64_t)(base >> 24) << 56);
}

void set_gate(uint8_t vector, int present, int dpl, int ist)
{
    int slot = -1;
    static const uint8_t vectors[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
        18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 0x40, 0x41, 0x42, 0x80};
    for (unsigned i = 0; i < sizeof vectors; i++) if (vectors[i] == vector) slot = (int)i;
    set_gate_handler(vector, slot >= 0 ? (uintptr_t)stub_table[slot] : 0, present, dpl, ist);
}

void set_gate_handler(uint8_t vector, uintptr_t handler, int present, int dpl, int ist)
{
    /* Interrupt gate (type 0xE), SDM vol. 3, 6.11 and 6.14.1. */
    uint64_t low = (uint64_t)(handler & 0xffff) | ((uint64_t)KERNEL_CS << 16)
        | ((uint64_t)((present ? 0x80 : 0) | (dpl << 5) | 0x0e) << 40) | ((uint64_t)((handler >> 16) & 0xffff) << 48);
#ifdef __x86_64__
    low |= (uint64_t)(ist & 7) << 32;
    idt[vector * 2] = low;
    idt[vector * 2 + 1] = (uint64_t)handler >> 32;
#else
    (void)ist;
    idt[vector] = low;
#endif
}

void tss_set_kernel_stack(uintptr_t top)
{
#ifdef __x86_64__
    tss.rsp[0] = top;
#else
    tss.esp0 = top;
    tss.ss0 = KERNEL_DS;
#endif
}

#ifdef __x86_64__
void tss_set_ist(int index, uintptr_t top) { tss.ist[index - 1] = top; }
#endif

void system_setup(uint8_t user_vector)
{
    uint32_t tss_base = (uint32_t)(uintptr_t)&tss;
#ifdef __x86_64__
    paging_setup();
#endif
    gdt[0] = 0;
#ifdef __x86_64__
    gdt[1] = segment_descriptor(0, 0xfffff, 0x9a, 0xa); /* ring-0 64-bit code */
    gdt[2] = segment_descriptor(0, 0xfffff, 0x92, 0xc); /* ring-0 data */
    gdt[3] = segment_descriptor(0, 0xfffff, 0xfa, 0xc); /* ring-3 32-bit code (SYSRET's layout) */
    gdt[4] = segment_descriptor(0, 0xfffff, 0xf2, 0xc); /* ring-3 data */
    gdt[5] = segment_descriptor(0, 0xfffff, 0xfa, 0xa); /* ring-3 64-bit code */
    gdt[6] = segment_descriptor(tss_base, sizeof tss - 1, 0x89, 0);
    gdt[7] = (uint64_t)((uintptr_t)&tss) >> 32;
    gdt[8] = segment_descriptor(0, 0xfffff, 0x12, 0xc); /* data, not present */
#else
    gdt[1] = segment_descriptor(0, 0xfffff, 0x9a, 0xc);
    gdt[2] = segment_descriptor(0, 0xfffff, 0x92, 0xc);
    gdt[3] = segment_descriptor(0, 0xfffff, 0xfa, 0xc);
    gdt[4] = segment_descriptor(0, 0xfffff, 0xf2, 0xc);
    gdt[5] = segment_descriptor(tss_base, sizeof tss - 1, 0x89, 0);
    gdt[6] = segment_descriptor(0, 0xfffff, 0x12, 0xc);
#endif
    tss.iomap_base = sizeof tss;
    kernel_stack_top = (uintptr_t)(kernel_stack + sizeof kernel_stack);
    user_stack_top = (uintptr_t)(user_stack + sizeof user_stack);
    tss_set_kernel_stack(kernel_stack_top);
    for (int vector = 0; vector < 256; vector++) set_gate((uint8_t)vector, 1, vector == user_vector ? 3 : 0, 0);

    struct __attribute__((packed)) { uint16_t limit; uintptr_t base; } gdtr = {sizeof gdt - 1, (uintptr_t)gdt},
        idtr = {sizeof idt - 1, (uintptr_t)idt};
    __asm__ volatile("lgdt %0" : : "m"(gdtr));
    __asm__ volatile("lidt %0" : : "m"(idtr));
#ifdef __x86_64__
    __asm__ volatile("pushq $0x08\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "mov $0x10, %%eax\n\t"
                     "mov %%eax, %%ds; mov %%eax, %%es; mov %%eax, %%ss; mov %%eax, %%fs; mov %%eax, %%gs"
                     : : : "rax", "memory");
#else
    __asm__ volatile("ljmp $0x08, $1f\n"
                     "1:\n\t"
                     "mov $0x10, %%eax\n\t"
                     "mov %%eax, %%ds; mov %%eax, %%es; mov %%eax, %%ss; mov %%eax, %%fs; mov %%eax, %%gs"
                     : : : "eax", "memory");
#endif
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)TSS_SELECTOR));
}

static void print_trap(const char *name, int trapped, void (*fn)(void))
{
    if (!trapped) {
        printf("%s: no trap\n", name);
        return;
    }
    long offset = (long)(last_trap.ip - (word_t)(uintptr_t)fn);
    if (offset < -4096 || offset > 4096) offset = -1; /* elsewhere: not comparable as an offset */
    printf("%s: vector=%u error=0x%x ip=fn+%ld cs=0x%lx\n", name, last_trap.vector, last_trap.error, offset,
           (unsigned long)last_trap.cs);
}

void report_trap(const char *name, void (*fn)(void))
{
    last_trap.count = 0;
    print_trap(name, probe(fn), fn);
}

void report_user(const char *name, void (*fn)(void))
{
    last_trap.count = 0;
    user_entry = fn;
    print_trap(name, probe(enter_user), fn);
}
