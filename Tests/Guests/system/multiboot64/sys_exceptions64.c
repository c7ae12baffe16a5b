/* Exceptions and error codes in 64-bit mode (Intel SDM vol. 3, 6.14-6.15): selector error codes,
 * #GP(0) and #SS(0) for non-canonical addresses (3.3.7.1), interrupt stack table switches for
 * #BP and for a double fault (6.14.5). */
#include "../sys_runtime.c"

static uint8_t ist1_stack[4096] __attribute__((aligned(16)));
static uint8_t ist2_stack[4096] __attribute__((aligned(16)));
#define TOP(stack) ((uintptr_t)(stack) + sizeof(stack))

static void divide_by_zero(void) { __asm__ volatile("xor %%edx, %%edx; xor %%eax, %%eax; xor %%ecx, %%ecx; div %%ecx" : : : "eax", "ecx", "edx"); }
static void undefined_opcode(void) { __asm__ volatile("ud2"); }
static void invalid_in_long_mode(void) { __asm__ volatile(".byte 0x37"); /* AAA */ }
static void breakpoint(void) { __asm__ volatile("int3"); }
static void selector_beyond_gdt(void) { __asm__ volatile("mov %0, %%ds" : : "r"(BEYOND_GDT)); }
static void system_selector_in_ds(void) { __asm__ volatile("mov %0, %%ds" : : "r"(TSS_SELECTOR)); }
static void absent_segment_in_ds(void) { __asm__ volatile("mov %0, %%ds" : : "r"(ABSENT_DS)); }
static void absent_segment_in_ss(void) { __asm__ volatile("mov %0, %%ss" : : "r"(ABSENT_DS)); }
static void absent_gate(void) { __asm__ volatile("int $0x41"); }
static void non_canonical_read(void) { __asm__ volatile("mov (%0), %%eax" : : "r"(0x8000000000000000ull) : "eax"); }
static void swapgs_at_cpl0(void) { __asm__ volatile("swapgs; swapgs"); }
static void far_jump_to_data(void)
{
    static const struct __attribute__((packed)) { uint32_t offset; uint16_t selector; } target = {0, KERNEL_DS};
    __asm__ volatile("ljmp *%0" : : "m"(target));
}

/* TF set by POPF traps after the instruction that follows it (SDM vol. 3, 18.3.1.4): ip is the
 * instruction after the NOP. */
/* RF in the RFLAGS image pushed for a fault is set on hardware and under KVM (SDM vol. 3,
 * 18.3.1.1); QEMU 7.2's TCG pushes it clear, so no line shows it (SoftFaultDetailTests checks it). */
static void single_step(void) { __asm__ volatile("pushfq; orq $0x100, (%%rsp); popfq; nop; nop" : : : "memory", "cc"); }
static void breakpoint_target(void) { __asm__ volatile("nop"); }
static inline uint64_t read_dr6(void) { uint64_t v; __asm__ volatile("mov %%dr6, %0" : "=r"(v)); return v; }
static inline void write_dr(int n, uint64_t v)
{
    if (n == 0) __asm__ volatile("mov %0, %%dr0" : : "r"(v));
    if (n == 6) __asm__ volatile("mov %0, %%dr6" : : "r"(v));
    if (n == 7) __asm__ volatile("mov %0, %%dr7" : : "r"(v));
}

/* A #DB handler that records RIP and RCX of each trap and returns with TF left as it is: a
 * repeated string instruction under TF steps once per iteration, RIP staying at the instruction
 * and RCX counting down until the last (vol. 2, REP). I/O breakpoints are DR7 R/W = 10 with
 * CR4.DE (SDM vol. 3, 18.2.4). */
volatile uint64_t step_rip[8], step_rcx[8], step_count;
uint8_t step_buffer[16];
__asm__(".text\n"
        "step_db_handler:\n"
        "  push %rax; push %rbx; push %rdx\n"
        "  mov step_count(%rip), %rax\n"
        "  and $7, %eax\n"
        "  mov 24(%rsp), %rdx\n"
        "  lea step_rip(%rip), %rbx; mov %rdx, (%rbx,%rax,8)\n"
        "  lea step_rcx(%rip), %rbx; mov %rcx, (%rbx,%rax,8)\n"
        "  incq step_count(%rip)\n"
        "  pop %rdx; pop %rbx; pop %rax\n"
        "  iretq\n"
        /* Three iterations of REP STOSB with TF set by the POPF before it, then TF cleared. */
        "rep_stos_stepped:\n"
        "  lea step_buffer(%rip), %rdi; mov $3, %ecx; xor %eax, %eax\n"
        "  pushfq; orq $0x100, (%rsp); popfq\n"
        "rep_stos_instruction:\n"
        "  rep stosb\n"
        "  pushfq; andq $~0x100, (%rsp); popfq\n"
        "  ret\n");
void step_db_handler(void);
void rep_stos_stepped(void);
void rep_stos_instruction(void);
static void out_to_0x80(void) { __asm__ volatile("outb %%al, $0x80" : : : "memory"); }

static void report_steps(const char *name, void (*run)(void), void (*instruction)(void))
{
    step_count = 0;
    set_gate_handler(1, (uintptr_t)step_db_handler, 1, 0, 0);
    run();
    set_gate(1, 1, 0, 0);
    printf("%s: %lu traps;", name, (unsigned long)step_count);
    for (uint64_t i = 0; i < step_count && i < 4; i++)
        printf(" ip=insn+%ld rcx=%lu", (long)(step_rip[i] - (uintptr_t)instruction), (unsigned long)step_rcx[i]);
    printf("\n");
}

/* An IDT-gate error code has the IDT flag (bit 1) and the gate's index; QEMU 7.2's TCG puts the
 * gate's 16-byte offset there in 64-bit mode rather than the vector the SDM names (6.13), so the
 * line shows the flags only. */
static void report_gate_fault(const char *name, void (*fn)(void))
{
    last_trap.count = 0;
    int trapped = probe(fn);
    printf("%s: trapped=%d vector=%u idt=%u ext=%u\n", name, trapped, last_trap.vector, (last_trap.error >> 1) & 1,
           last_trap.error & 1);
}

void guest_main(void)
{
    system_setup(0x80);
    set_gate(0x41, 0, 0, 0);
    printf("system: exceptions, 64-bit mode\n");
    report_trap("#DE div by zero", divide_by_zero);
    report_trap("#UD ud2", undefined_opcode);
    report_trap("#UD AAA in 64-bit mode", invalid_in_long_mode);
    report_trap("#BP int3", breakpoint);
    report_trap("#GP selector beyond GDT limit", selector_beyond_gdt);
    report_trap("#GP system segment in DS", system_selector_in_ds);
    report_trap("#NP absent segment in DS", absent_segment_in_ds);
    report_trap("#SS absent segment in SS", absent_segment_in_ss);
    report_gate_fault("#NP absent IDT gate", absent_gate);
    report_trap("#GP non-canonical data address", non_canonical_read);
    write_dr(6, 0);
    report_trap("#DB single step", single_step);
    printf("  dr6.bs=%u\n", (unsigned)((read_dr6() >> 14) & 1));
    write_dr(6, 0);
    write_dr(0, (uintptr_t)breakpoint_target);
    write_dr(7, 1);
    report_trap("#DB instruction breakpoint", breakpoint_target);
    write_dr(7, 0);
    printf("  dr6.b0=%u\n", (unsigned)(read_dr6() & 1));
    report_steps("#DB single step through rep stosb", rep_stos_stepped, rep_stos_instruction);
    write_cr4(read_cr4() | (1u << 3)); /* DE */
    write_dr(6, 0);
    write_dr(0, 0x80);
    write_dr(7, 0x20001); /* L0, R/W0 = 10 (I/O), LEN0 = 1 byte */
    report_trap("#DB I/O breakpoint on out", out_to_0x80);
    printf("  dr6.b0=%u\n", (unsigned)(read_dr6() & 1));
    /* REP OUTSB to the watched port traps after each iteration, at the instruction, with RCX
     * counting down, as a data breakpoint does in a repeated string instruction (SDM vol. 3,
     * 18.3.1.2; Bochs too); QEMU 7.2's TCG raises the trap after the instruction with RCX unchanged
     * and the remaining iterations skipped, so no line shows it (SoftIOBreakpointTests checks it). */
    write_dr(7, 0);
    write_cr4(read_cr4() & ~(1u << 3));
    /* A non-canonical stack reference raises #SS(0) (SDM vol. 3, 6.15); QEMU's TCG, the
     * reference transcript, raises #GP(0), so that check is left out. */
    report_trap("swapgs twice at CPL 0", swapgs_at_cpl0);
    report_trap("#GP far jump to a data segment", far_jump_to_data);

    tss_set_ist(1, TOP(ist1_stack));
    set_gate(3, 1, 0, 1);
    report_trap("#BP on IST1", breakpoint);
    printf("  frame at ist1 top-%lu\n", (unsigned long)(TOP(ist1_stack) - last_trap.frame));
    tss_set_ist(2, TOP(ist2_stack));
    set_gate(8, 1, 0, 2);
    set_gate(13, 0, 0, 0);
    report_trap("#DF on IST2 (#NP while delivering #GP)", selector_beyond_gdt);
    printf("  frame at ist2 top-%lu\n", (unsigned long)(TOP(ist2_stack) - last_trap.frame));
    set_gate(13, 1, 0, 0);
    report_trap("#GP after the gate is back", selector_beyond_gdt);
}
