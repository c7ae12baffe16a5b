// memfd_create(2) for Swift: Glibc's module map shows it only with _GNU_SOURCE. Guest RAM is a
// memfd when another process (a vhost-user back-end) must map it too.
#ifndef CMEMFD_H
#define CMEMFD_H
#define _GNU_SOURCE
#include <sys/mman.h>

/// An anonymous shared-memory file, close-on-exec; -1 and errno on failure.
static inline int cmemfd_create(const char *name) { return memfd_create(name, MFD_CLOEXEC); }

#endif
