/* The application processors' start-up code (SDM vol. 3, 8.4.4.2): a start-up IPI with vector 0x08
 * starts each AP in real mode at 0x0800:0000, where the BSP copied this code. It loads its own
 * flat GDT, enters 32-bit protected mode, takes a stack by atomic increment and calls ap_main. */
#define TRAMPOLINE_BASE 0x8000
#define AP_STACK_SIZE 4096
#define ADDRESS(symbol) (symbol - trampoline_start + TRAMPOLINE_BASE)

    .section .text
    .global trampoline_start, trampoline_end
    .code16
trampoline_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    lgdtl ADDRESS(trampoline_gdt_pointer)
    mov %cr0, %eax
    or $1, %eax
    mov %eax, %cr0
    ljmpl $0x08, $ADDRESS(trampoline_protected)

    .code32
trampoline_protected:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $1, %eax
    lock xadd %eax, ap_stack_index
    inc %eax
    imul $AP_STACK_SIZE, %eax
    add $ap_stacks, %eax
    mov %eax, %esp
    mov $ap_main, %eax
    call *%eax
1:  cli
    hlt
    jmp 1b

    .balign 8
trampoline_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: flat 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: flat data */
trampoline_gdt_pointer:
    .word trampoline_gdt_pointer - trampoline_gdt - 1
    .long ADDRESS(trampoline_gdt)
trampoline_end:
    .section .note.GNU-stack, "", @progbits
