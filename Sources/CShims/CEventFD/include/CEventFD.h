// eventfd(2) for Swift: Glibc's module map leaves out <sys/eventfd.h>. VMMKit's doorbells and
// device threads are eventfds, which KVM takes as ioeventfds and irqfds (api.rst: KVM_IOEVENTFD,
// KVM_IRQFD).
#ifndef CEVENTFD_H
#define CEVENTFD_H
#include <sys/eventfd.h>
#endif
