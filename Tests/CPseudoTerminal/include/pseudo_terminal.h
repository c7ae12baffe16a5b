#ifndef PSEUDO_TERMINAL_H
#define PSEUDO_TERMINAL_H
#include <stddef.h>

/* Opens a new pseudo-terminal pair: returns the master's descriptor and writes the slave's path
 * into `path` (at most `size` bytes), or returns -1 with errno set. posix_openpt(3) and friends
 * need _XOPEN_SOURCE, which Swift's Glibc module does not define, hence this C file. */
int vmm_test_open_pseudo_terminal(char *path, size_t size);

#endif
