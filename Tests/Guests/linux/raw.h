/* What the initramfs's small helpers (debug-exit, boot-count) share: built with -nostdlib, they
 * make raw Linux system calls (x86-64 ABI: number in rax, arguments in rdi, rsi, rdx) and reach
 * ports they were granted with ioperm(2) themselves. */
#ifndef LINUX_GUEST_RAW_H
#define LINUX_GUEST_RAW_H

enum { SYS_ioctl = 16, SYS_exit = 60, SYS_ioperm = 173 };

static long system_call(long number, long first, long second, long third)
{
    long result;
    __asm__ volatile("syscall"
                     : "=a"(result)
                     : "a"(number), "D"(first), "S"(second), "d"(third)
                     : "rcx", "r11", "memory");
    return result;
}

static inline void outb(unsigned char value, unsigned short port)
{
    __asm__ volatile("outb %b0, %w1" : : "a"(value), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
    unsigned char value;
    __asm__ volatile("inb %w1, %b0" : "=a"(value) : "Nd"(port));
    return value;
}

#endif
