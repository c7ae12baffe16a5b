/* The sieve benchmark (multiboot64/sieve.c) built as 32-bit code (gcc -m32 -O2): the Soft CPU's
 * translator on protected-mode code, compared with QEMU TCG in benchmarks/run. */
#include "../multiboot64/sieve.c"
