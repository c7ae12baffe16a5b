/* 64-bit entry, reached in 32-bit flat protected mode (Multiboot or PVH): builds page tables that
 * identity-map the first 4 GiB with 2 MiB pages, then enables PAE, EFER.LME and paging, which
 * activates IA-32e mode (Intel SDM vol. 3, 9.8.5), and jumps to 64-bit code. EAX and EBX (boot
 * magic, boot information address) are handed to runtime_start in RDI and RSI. */
#define PAGE_PRESENT_WRITABLE 0x3
#define PAGE_LARGE 0x80
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xC0000080
#define EFER_LME (1 << 8)
#define CR0_PE (1 << 0)
#define CR0_PG (1 << 31)

    .section .text
    .code32
    .global _start
_start:
    cli
    cld
    mov %eax, %edi
    mov %ebx, %esi
    mov $stack_top, %esp

    /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories; each PD maps 1 GiB in 2 MiB pages. */
    mov $pdpt + PAGE_PRESENT_WRITABLE, %eax
    mov %eax, pml4
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $12, %eax
    add $page_directories + PAGE_PRESENT_WRITABLE, %eax
    mov %eax, pdpt(, %ecx, 8)
    inc %ecx
    cmp $4, %ecx
    jne 1b
    xor %ecx, %ecx
2:  mov %ecx, %eax
    shl $21, %eax
    or $PAGE_PRESENT_WRITABLE + PAGE_LARGE, %eax
    mov %eax, page_directories(, %ecx, 8)
    mov %ecx, %eax
    shr $11, %eax           /* bits 32+ of the physical address: entry index / 2048 */
    mov %eax, page_directories + 4(, %ecx, 8)
    inc %ecx
    cmp $2048, %ecx
    jne 2b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    or $CR0_PG + CR0_PE, %eax
    mov %eax, %cr0
    lgdt gdt_pointer
    ljmp $0x08, $long_mode

    .code64
long_mode:
    mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    mov %eax, %fs
    mov %eax, %gs
    mov $stack_top, %rsp
    /* The upper halves of registers are undefined after the switch (SDM vol. 1, 3.4.1.1). */
    mov %edi, %edi
    mov %esi, %esi
    call runtime_start
3:  cli
    hlt
    jmp 3b

    .section .rodata
    .balign 8
gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code, L=1 */
    .quad 0x00cf92000000ffff    /* 0x10: flat data */
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .long gdt

    .section .bss
    .balign 4096
pml4:
    .space 4096
pdpt:
    .space 4096
page_directories:
    .space 4 * 4096
    .balign 16
    .space 16384
stack_top:
    .section .note.GNU-stack, "", @progbits
