/* Exceptions and their error codes in 32-bit protected mode (Intel SDM vol. 3, 6.15): faults
 * report the faulting instruction, traps the next one; selector error codes name the selector
 * (6.13); a fault while delivering a contributory fault becomes a double fault (table 6-5). */
#include "../sys_runtime.c"

static void divide_by_zero(void) { __asm__ volatile("xor %%edx, %%edx; xor %%eax, %%eax; xor %%ecx, %%ecx; div %%ecx" : : : "eax", "ecx", "edx"); }
static void undefined_opcode(void) { __asm__ volatile("ud2"); }
static void breakpoint(void) { __asm__ volatile("int3"); }
static void overflow(void) { __asm__ volatile("mov $0x7fffffff, %%eax; add $1, %%eax; into" : : : "eax", "cc"); }
static void bound_exceeded(void)
{
    static const int32_t bounds[2] = {0, 10};
    __asm__ volatile("mov $20, %%eax; bound %%eax, %0" : : "m"(bounds) : "eax");
}
static void selector_beyond_gdt(void) { __asm__ volatile("mov %0, %%ds" : : "r"(BEYOND_GDT)); }
static void system_selector_in_ds(void) { __asm__ volatile("mov %0, %%ds" : : "r"(TSS_SELECTOR)); }
static void user_data_in_ss(void) { __asm__ volatile("mov %0, %%ss" : : "r"(USER_DS | 3)); }
static void absent_segment_in_ds(void) { __asm__ volatile("mov %0, %%ds" : : "r"(ABSENT_DS)); }
static void absent_segment_in_ss(void) { __asm__ volatile("mov %0, %%ss" : : "r"(ABSENT_DS)); }
static void absent_gate(void) { __asm__ volatile("int $0x41"); }

void guest_main(void)
{
    system_setup(0x80);
    set_gate(0x41, 0, 0, 0);
    printf("system: exceptions, 32-bit protected mode\n");
    report_trap("#DE div by zero", divide_by_zero);
    report_trap("#UD ud2", undefined_opcode);
    report_trap("#BP int3", breakpoint);
    report_trap("#OF into", overflow);
    report_trap("#BR bound", bound_exceeded);
    report_trap("#GP selector beyond GDT limit", selector_beyond_gdt);
    report_trap("#GP system segment in DS", system_selector_in_ds);
    report_trap("#GP RPL != CPL for SS", user_data_in_ss);
    report_trap("#NP absent segment in DS", absent_segment_in_ds);
    report_trap("#SS absent segment in SS", absent_segment_in_ss);
    report_trap("#NP absent IDT gate", absent_gate);
    /* Writes through CS and accesses through a null DS are left out: QEMU's TCG, the reference
     * transcript, does not check segment types or null selectors on data accesses. */
    /* #GP's own gate absent: delivering #GP raises #NP, two contributory faults make #DF. */
    set_gate(13, 0, 0, 0);
    report_trap("#DF #NP while delivering #GP", selector_beyond_gdt);
    set_gate(13, 1, 0, 0);
    report_trap("#GP after the gate is back", selector_beyond_gdt);
}
