/* 32-bit entry: the loader leaves us in flat protected mode with paging off and no usable stack
 * (Multiboot 0.6.96, 3.2); EAX and EBX carry the boot magic and the boot information address. */
    .section .text
    .code32
    .global _start
_start:
    cli
    cld
    mov $stack_top, %esp
    push %ebx               /* runtime_start(magic, info), cdecl */
    push %eax
    call runtime_start
1:  cli
    hlt
    jmp 1b

    .section .bss
    .balign 16
    .space 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
