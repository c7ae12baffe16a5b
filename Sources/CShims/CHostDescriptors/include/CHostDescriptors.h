// Linux descriptor calls that Swift's Glibc module does not show (sys/mman.h's memfd_create and
// sys/eventfd.h are behind _GNU_SOURCE or outside the module map): guest RAM shared with another
// process (memfd_create(2)) and the counters vhost-user kicks and calls through (eventfd(2)).
#ifndef CHOSTDESCRIPTORS_H
#define CHOSTDESCRIPTORS_H
#define _GNU_SOURCE
#include <sys/eventfd.h>
#include <sys/mman.h>

/// An anonymous shared-memory file, close-on-exec; -1 and errno on failure.
static inline int chost_memfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

/// An eventfd counter starting at 0, close-on-exec and non-blocking; -1 and errno on failure.
static inline int chost_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

#endif
