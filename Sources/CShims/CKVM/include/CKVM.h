// linux/kvm.h for Swift. Swift cannot evaluate the _IO/_IOR/_IOW/_IOWR macros, so each ioctl
// number vmm uses is re-exported as a constant here (Documentation/virt/kvm/api.rst).
#ifndef CKVM_H
#define CKVM_H
#include <linux/kvm.h>
#include <sys/ioctl.h>

static const unsigned long CKVM_GET_API_VERSION = KVM_GET_API_VERSION;
#endif
