/* A tiny Multiboot guest for measuring exit cost when Tests/Guests' exitbench is not built:
 * reads port 0x3fd (16550 LSR) COUNT times, then MMIO 0xD0000000 COUNT times, timing each loop with
 * RDTSC, prints "port: N cycles/exit" and "mmio: N cycles/exit" on COM1 and exits via port 0xf4. */
#define COUNT 100000
        .section .multiboot, "a"
        .align 4
        .long 0x1BADB002, 0, -0x1BADB002      /* magic, flags, checksum (Multiboot 0.6.96, 3.1.1) */

        .text
        .code32
        .globl _start
_start:
        mov $0x80000, %esp
        mov $port_label, %esi
        call print
        call time_port_reads
        call print_per_exit
        mov $mmio_label, %esi
        call print
        call time_mmio_reads
        call print_per_exit
        xor %eax, %eax
        mov $0xf4, %dx
        out %eax, %dx
        hlt

/* eax = cycles spent in COUNT port reads */
time_port_reads:
        rdtsc
        mov %eax, %edi
        mov $COUNT, %ecx
        mov $0x3fd, %dx
1:      in %dx, %al
        dec %ecx
        jnz 1b
        rdtsc
        sub %edi, %eax
        ret

time_mmio_reads:
        rdtsc
        mov %eax, %edi
        mov $COUNT, %ecx
        mov $0xD0000000, %ebx
1:      mov (%ebx), %eax
        dec %ecx
        jnz 1b
        rdtsc
        sub %edi, %eax
        ret

/* prints eax / COUNT in decimal, then " cycles/exit\n" */
print_per_exit:
        xor %edx, %edx
        mov $COUNT, %ecx
        div %ecx
        mov $digits_end, %edi
        mov $10, %ecx
1:      xor %edx, %edx
        div %ecx
        add $'0', %dl
        dec %edi
        mov %dl, (%edi)
        test %eax, %eax
        jnz 1b
        mov %edi, %esi
        call print
        mov $suffix, %esi
        jmp print

/* prints the NUL-terminated string at esi on COM1 */
print:
        mov $0x3f8, %dx
1:      lodsb
        test %al, %al
        jz 2f
        out %al, %dx
        jmp 1b
2:      ret

        .data
port_label:  .asciz "port: "
mmio_label:  .asciz "mmio: "
suffix:      .asciz " cycles/exit\n"
digits:      .space 11
digits_end:  .byte 0
