/* Privilege changes in 64-bit mode: ring 3 through IRETQ, back through an INT gate with the
 * TSS's RSP0 stack switch (Intel SDM vol. 3, 6.14.2-6.14.4), ring-3 protection checks, and
 * SYSCALL/SYSRET with the selectors STAR derives (vol. 2, SYSCALL/SYSRET). */
#include "../sys_runtime.c"

#define MSR_STAR 0xc0000081
#define MSR_LSTAR 0xc0000082
#define MSR_CSTAR 0xc0000083
#define MSR_FMASK 0xc0000084

volatile uint64_t kernel_cs_seen, kernel_ss_seen, return_rip_seen, saved_flags_seen, user_cs_seen, user_ss_seen, user_flags_seen;

#define USER_CODE(name, body) \
    static void name(void) { __asm__ volatile(body "\n\tint $0x80"); __builtin_unreachable(); }
USER_CODE(user_returns, "mov $7, %eax")
USER_CODE(user_pushes, "push $1; push $2; push $3")
USER_CODE(user_cli, "cli")
USER_CODE(user_hlt, "hlt")
USER_CODE(user_port_out, "outb %al, $0x80")
USER_CODE(user_gate_dpl0, "int $0x42")
USER_CODE(user_kernel_data_in_ds, "mov $0x10, %eax; mov %eax, %ds")
USER_CODE(user_write_cr3, "mov %rax, %cr3")
USER_CODE(user_swapgs, "swapgs")
USER_CODE(user_int3, "int3")

/* SYSCALL saves RIP in RCX and RFLAGS in R11; SYSRET returns through them (vol. 2). */
__asm__(".text\n"
        "user_syscall:\n"
        "  pushq $0x8d7; popfq\n"
        "  syscall\n"
        "syscall_return:\n"
        "  pushfq; popq user_flags_seen(%rip)\n"
        "  mov %cs, %eax; mov %rax, user_cs_seen(%rip)\n"
        "  mov %ss, %eax; mov %rax, user_ss_seen(%rip)\n"
        "  int $0x80\n"
        "syscall_entry:\n"
        "  mov %cs, %eax; mov %rax, kernel_cs_seen(%rip)\n"
        "  mov %ss, %eax; mov %rax, kernel_ss_seen(%rip)\n"
        "  mov %rcx, return_rip_seen(%rip)\n"
        "  mov %r11, saved_flags_seen(%rip)\n"
        "  sysretq\n");
void user_syscall(void);
void syscall_return(void);
void syscall_entry(void);

/* 32-bit SYSCALL/SYSRET with TF, the sequence of kvm-unit-tests' syscall test: each judges TF by
 * the RFLAGS it leaves (vol. 2, SYSCALL/SYSRET; vol. 3, 18.3.1.4). The kernel SYSRETLs to ring 3
 * in compatibility mode, which sets TF with POPF and does SYSCALL; FMASK clears TF, so no #DB at
 * CSTAR. The kernel SYSRETLs with TF set in R11: #DB comes at the user's next instruction, from
 * CS 0x1b, through a 64-bit gate whose handler counts, clears TF and returns; the user's second
 * SYSCALL comes back to the kernel, which returns to C on its own stack. */
volatile uint64_t compat_db_count, compat_db_ip, compat_db_cs, compat_db_ss, compat_saved_sp;
volatile uint64_t compat_back_ss, compat_back_flags;
__asm__(".text\n"
        "compat_db_handler:\n"
        "  incq compat_db_count(%rip)\n"
        "  push %rax\n"
        "  mov 8(%rsp), %rax; mov %rax, compat_db_ip(%rip)\n"
        "  mov 16(%rsp), %rax; mov %rax, compat_db_cs(%rip)\n"
        "  mov 40(%rsp), %rax; mov %rax, compat_db_ss(%rip)\n"
        "  andq $~0x100, 24(%rsp)\n"
        "  pop %rax\n"
        "  iretq\n"
        "compat_entry:\n"
        "  cmpq $0, compat_db_count(%rip)\n"
        "  jne compat_back\n"
        "  mov %eax, %r11d\n"
        "  sysretl\n"
        "compat_back:\n"
        "  mov %ss, %eax; mov %rax, compat_back_ss(%rip)\n"
        "  pushfq; popq compat_back_flags(%rip)\n"
        "  mov compat_saved_sp(%rip), %rsp\n"
        "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
        "  ret\n"
        ".code32\n"
        "compat_user:\n"
        "  pushf; pop %eax; or $0x100, %eax; push %eax; popf\n"
        "  syscall\n"
        "  syscall\n"
        ".code64\n"
        "compat_syscalls:\n"
        "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
        "  mov %rsp, compat_saved_sp(%rip)\n"
        "  lea compat_user(%rip), %rcx\n"
        "  mov $0x2, %r11d\n"
        "  mov user_stack_top(%rip), %rsp\n"
        "  sysretl\n");
void compat_db_handler(void);
void compat_entry(void);
void compat_user(void);
void compat_syscalls(void);

void guest_main(void)
{
    system_setup(0x80);
    printf("system: privilege changes, 64-bit mode\n");
    report_user("ring 3 and back through INT 0x80", user_returns);
    printf("  from cs=0x%lx ss=0x%lx, user rsp consumed=%lu, kernel stack used=%lu\n", (unsigned long)last_trap.cs,
           (unsigned long)last_trap.ss, (unsigned long)(user_stack_top - last_trap.sp),
           (unsigned long)(kernel_stack_top - last_trap.frame));
    report_user("ring 3 pushes then INT 0x80", user_pushes);
    printf("  user rsp consumed=%lu\n", (unsigned long)(user_stack_top - last_trap.sp));
    report_user("#GP cli at CPL 3", user_cli);
    report_user("#GP hlt at CPL 3", user_hlt);
    report_user("#GP out at CPL 3 with IOPL 0", user_port_out);
    /* The error code's gate index is left out: see sys_exceptions64's report_gate_fault. */
    last_trap.count = 0;
    user_entry = user_gate_dpl0;
    probe(enter_user);
    printf("#GP INT through a DPL 0 gate: vector=%u idt=%u cs=0x%lx\n", last_trap.vector, (last_trap.error >> 1) & 1,
           (unsigned long)last_trap.cs);
    report_user("#GP DPL 0 data into DS at CPL 3", user_kernel_data_in_ds);
    report_user("#GP mov to CR3 at CPL 3", user_write_cr3);
    report_user("#GP swapgs at CPL 3", user_swapgs);
    /* INT3 is checked against the gate's DPL like INT n (vol. 3, 6.12.1.1); INT1 (ICEBP) is not,
     * but QEMU 7.2's TCG raises #UD for it, so SoftDebugExceptionTests checks that one. */
    last_trap.count = 0;
    user_entry = user_int3;
    probe(enter_user);
    printf("#GP INT3 at CPL 3 through a DPL 0 gate: vector=%u idt=%u cs=0x%lx\n", last_trap.vector,
           (last_trap.error >> 1) & 1, (unsigned long)last_trap.cs);

    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SCE);
    /* SYSCALL: CS = STAR[47:32], SS = +8. SYSRET to 64-bit: CS = STAR[63:48] + 16, SS = +8. */
    wrmsr(MSR_STAR, ((uint64_t)USER32_CS << 48) | ((uint64_t)KERNEL_CS << 32));
    wrmsr(MSR_LSTAR, (uintptr_t)syscall_entry);
    wrmsr(MSR_FMASK, 0x4700); /* clear TF IF DF NT */
    report_user("SYSCALL and SYSRET", user_syscall);
    printf("  kernel cs=0x%lx ss=0x%lx, rcx is the return point: %d, r11=0x%lx\n", (unsigned long)(kernel_cs_seen & 0xffff),
           (unsigned long)(kernel_ss_seen & 0xffff), return_rip_seen == (uintptr_t)syscall_return,
           (unsigned long)saved_flags_seen);
    printf("  back in ring 3: cs=0x%lx ss=0x%lx rflags=0x%lx\n", (unsigned long)(user_cs_seen & 0xffff),
           (unsigned long)(user_ss_seen & 0xffff), (unsigned long)user_flags_seen);

    wrmsr(MSR_CSTAR, (uintptr_t)compat_entry);
    set_gate_handler(1, (uintptr_t)compat_db_handler, 1, 0, 0);
    compat_syscalls();
    set_gate(1, 1, 0, 0);
    printf("32-bit SYSCALL and SYSRET with TF: #DB count=%lu ip=user+%ld cs=0x%lx ss=0x%lx\n",
           (unsigned long)compat_db_count, (long)(compat_db_ip - (uintptr_t)compat_user),
           (unsigned long)(compat_db_cs & 0xffff), (unsigned long)(compat_db_ss & 0xffff));
    printf("  back in the kernel: ss=0x%lx tf=%lu\n", (unsigned long)(compat_back_ss & 0xffff),
           (unsigned long)((compat_back_flags >> 8) & 1));
}
