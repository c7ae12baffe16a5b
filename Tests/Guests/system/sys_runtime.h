/* Shared machinery of the system-level guests (Tests/Guests/system): a GDT with ring-0 and
 * ring-3 segments, a TSS, an IDT whose every handler records the trap and resumes the code that
 * set it up, ring-3 entry through IRET, and helpers for control registers and MSRs.
 *
 * A check runs inside probe(fn): probe returns 0 if fn returned, 1 if a trap resumed it. The
 * trap handler keeps vector, error code, faulting IP (relative to fn), CS and the frame address
 * in last_trap, so each guest prints one line per check with the values it saw: two
 * implementations' transcripts then compare line by line (Intel SDM vol. 3, chapters 5-7). */
#ifndef SYS_RUNTIME_H
#define SYS_RUNTIME_H
#include "guest.h"

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#ifdef __x86_64__
#define USER32_CS 0x18
#define USER_DS 0x20
#define USER_CS 0x28
#define TSS_SELECTOR 0x30
#define ABSENT_DS 0x40
#define GDT_ENTRIES 9
typedef uint64_t word_t;
#else
#define USER_CS 0x18
#define USER_DS 0x20
#define TSS_SELECTOR 0x28
#define ABSENT_DS 0x30
#define GDT_ENTRIES 7
typedef uint32_t word_t;
#endif
/* An index beyond the GDT limit. */
#define BEYOND_GDT 0x80

#define MSR_EFER 0xc0000080
#define EFER_NXE (1u << 11)
#define EFER_SCE (1u << 0)

/* The interrupt frame as the common stub leaves it: saved registers, vector, error code, then
 * what the CPU pushed (SDM vol. 3, 6.12.1 and 6.14.2). */
struct trap_frame {
#ifdef __x86_64__
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rdi, rsi, rbp, rbx, rdx, rcx, rax;
#else
    uint32_t edi, esi, ebp, esp_ignored, ebx, edx, ecx, eax;
#endif
    word_t vector, error, ip, cs, flags, sp, ss;
};

struct trap_record {
    uint32_t count;
    uint32_t vector;
    uint32_t error;
    word_t ip;
    word_t cs;
    word_t flags;
    uintptr_t frame;
    word_t cr2;
    /* The interrupted stack, when the trap came from ring 3. */
    word_t sp, ss;
};

extern volatile struct trap_record last_trap;
extern uint64_t gdt[GDT_ENTRIES];
extern word_t probe_saved_sp;
int probe(void (*fn)(void));
void probe_resume(void);
void enter_user(void);
extern void (*volatile user_entry)(void);
extern uintptr_t user_stack_top;
extern uintptr_t kernel_stack_top;

static inline word_t read_cr0(void) { word_t v; __asm__ volatile("mov %%cr0, %0" : "=r"(v)); return v; }
static inline word_t read_cr2(void) { word_t v; __asm__ volatile("mov %%cr2, %0" : "=r"(v)); return v; }
static inline word_t read_cr4(void) { word_t v; __asm__ volatile("mov %%cr4, %0" : "=r"(v)); return v; }
static inline void write_cr0(word_t v) { __asm__ volatile("mov %0, %%cr0" : : "r"(v) : "memory"); }
static inline void write_cr2(word_t v) { __asm__ volatile("mov %0, %%cr2" : : "r"(v) : "memory"); }
static inline void write_cr3(word_t v) { __asm__ volatile("mov %0, %%cr3" : : "r"(v) : "memory"); }
static inline void write_cr4(word_t v) { __asm__ volatile("mov %0, %%cr4" : : "r"(v) : "memory"); }
static inline void invlpg(uintptr_t a) { __asm__ volatile("invlpg (%0)" : : "r"(a) : "memory"); }
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* Loads the GDT, TSS and IDT; every vector gets a ring-0 interrupt gate except `user_vector`,
 * whose gate has DPL 3 so ring 3 can INT to it. */
void system_setup(uint8_t user_vector);
/* Rewrites gate `vector`: present or not, DPL, and (64-bit) the IST index. */
void set_gate(uint8_t vector, int present, int dpl, int ist);
/* The same with a handler of the guest's own instead of the recording stub. */
void set_gate_handler(uint8_t vector, uintptr_t handler, int present, int dpl, int ist);
/* The TSS fields the checks use. */
void tss_set_kernel_stack(uintptr_t top);
#ifdef __x86_64__
/* system_setup's page tables: PML4 and the directory for 1 GiB - 2 GiB. */
extern uint64_t pml4[512];
extern uint64_t test_directory[512];
void tss_set_ist(int index, uintptr_t top);
#endif

/* Runs `fn` in probe and prints "NAME: <result>" with the trap seen, IP relative to `fn`. */
void report_trap(const char *name, void (*fn)(void));
/* Runs `fn` at ring 3 through IRET on the user stack; it must end in INT to the user vector. */
void report_user(const char *name, void (*fn)(void));

#endif
