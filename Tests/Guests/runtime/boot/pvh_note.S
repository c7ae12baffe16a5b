/* The ELF note announcing a PVH entry point: name "Xen", type XEN_ELFNOTE_PHYS32_ENTRY (18), a
 * 32-bit physical address entered in flat 32-bit protected mode with EBX = hvm_start_info
 * (xen include/public/elfnote.h and arch-x86/hvm/start_info.h). */
#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a", @note
    .balign 4
    .long 2f - 1f           /* namesz */
    .long 4f - 3f           /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
1:  .asciz "Xen"
2:  .balign 4
3:  .long _start
4:  .balign 4
    .section .note.GNU-stack, "", @progbits
