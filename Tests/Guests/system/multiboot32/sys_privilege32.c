/* Privilege changes in 32-bit protected mode: ring 3 through IRET, back through an INT gate
 * with the TSS's ESP0/SS0 stack switch (Intel SDM vol. 3, 6.12.1), the protection checks ring 3
 * meets (IOPL, DPL of gates and segments, privileged instructions), and SYSENTER/SYSEXIT with
 * their MSR-derived selectors (vol. 2, SYSENTER/SYSEXIT). */
#include "../sys_runtime.c"

#define SYSENTER_CS_MSR 0x174
#define SYSENTER_ESP_MSR 0x175
#define SYSENTER_EIP_MSR 0x176

static uint8_t sysenter_stack[4096] __attribute__((aligned(16)));
volatile uint32_t kernel_cs_seen, kernel_ss_seen, kernel_esp_seen, user_cs_seen, user_ss_seen;

#define USER_CODE(name, body) \
    static void name(void) { __asm__ volatile(body "\n\tint $0x80"); __builtin_unreachable(); }
USER_CODE(user_returns, "mov $7, %eax")
USER_CODE(user_cli, "cli")
USER_CODE(user_hlt, "hlt")
USER_CODE(user_port_in, "inb $0x80, %al")
USER_CODE(user_gate_dpl0, "int $0x42")
USER_CODE(user_kernel_data_in_ds, "mov $0x10, %eax; mov %eax, %ds")
USER_CODE(user_read_cr0, "mov %cr0, %eax")
USER_CODE(user_pushes, "push $1; push $2; push $3")

/* SYSENTER from ring 3: ECX and EDX carry the return ESP and EIP for SYSEXIT. */
__asm__(".text\n"
        "user_sysenter:\n"
        "  mov %esp, %ecx\n"
        "  mov $1f, %edx\n"
        "  sysenter\n"
        "1:\n"
        "  mov %cs, %eax; mov %eax, user_cs_seen\n"
        "  mov %ss, %eax; mov %eax, user_ss_seen\n"
        "  int $0x80\n"
        "sysenter_entry:\n"
        "  mov %cs, %eax; mov %eax, kernel_cs_seen\n"
        "  mov %ss, %eax; mov %eax, kernel_ss_seen\n"
        "  mov %esp, kernel_esp_seen\n"
        "  sysexit\n");
void user_sysenter(void);
void sysenter_entry(void);

void guest_main(void)
{
    system_setup(0x80);
    printf("system: privilege changes, 32-bit protected mode\n");
    report_user("ring 3 and back through INT 0x80", user_returns);
    printf("  from cs=0x%lx ss=0x%lx, user esp consumed=%lu, kernel stack used=%lu\n", (unsigned long)last_trap.cs,
           (unsigned long)last_trap.ss, (unsigned long)(user_stack_top - last_trap.sp),
           (unsigned long)(kernel_stack_top - last_trap.frame));
    report_user("ring 3 pushes then INT 0x80", user_pushes);
    printf("  user esp consumed=%lu\n", (unsigned long)(user_stack_top - last_trap.sp));
    report_user("#GP cli at CPL 3", user_cli);
    report_user("#GP hlt at CPL 3", user_hlt);
    report_user("#GP in at CPL 3 with IOPL 0", user_port_in);
    report_user("#GP INT through a DPL 0 gate", user_gate_dpl0);
    report_user("#GP DPL 0 data into DS at CPL 3", user_kernel_data_in_ds);
    report_user("#GP mov from CR0 at CPL 3", user_read_cr0);

    wrmsr(SYSENTER_CS_MSR, KERNEL_CS);
    wrmsr(SYSENTER_ESP_MSR, (uintptr_t)(sysenter_stack + sizeof sysenter_stack));
    wrmsr(SYSENTER_EIP_MSR, (uintptr_t)sysenter_entry);
    report_user("SYSENTER and SYSEXIT", user_sysenter);
    printf("  kernel cs=0x%x ss=0x%x esp=stack+%ld, user cs=0x%x ss=0x%x\n", kernel_cs_seen & 0xffff,
           kernel_ss_seen & 0xffff, (long)kernel_esp_seen - (long)(uintptr_t)(sysenter_stack + sizeof sysenter_stack),
           user_cs_seen & 0xffff, user_ss_seen & 0xffff);
}
