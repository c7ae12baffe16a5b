import VMMKit

extension CPUIDModel {
    /// What the Soft CPU implements, and nothing more. Vendor and family follow QEMU's "qemu64" model
    /// (AMD family 15), which guests know to need no model-specific quirks.
    public static let softCPU = CPUIDModel(
        vendor: "AuthenticAMD", maxBasicLeaf: 0xd, maxExtendedLeaf: 0x8000_0008,
        family: 15, model: 107, stepping: 1,
        // SSE3 waits for FISTTP (its x87 member); MONITOR/MWAIT are not implemented.
        leaf1ECX: Leaf1ECX.ssse3 | Leaf1ECX.sse41 | Leaf1ECX.sse42 | Leaf1ECX.cx16 | Leaf1ECX.movbe | Leaf1ECX.popcnt
            | Leaf1ECX.xsave | Leaf1ECX.hypervisor,
        leaf1EDX: Leaf1EDX.fpu | Leaf1EDX.de | Leaf1EDX.pse | Leaf1EDX.tsc | Leaf1EDX.msr | Leaf1EDX.pae
            | Leaf1EDX.cx8 | Leaf1EDX.apic | Leaf1EDX.sep | Leaf1EDX.pge | Leaf1EDX.cmov | Leaf1EDX.pat
            | Leaf1EDX.pse36 | Leaf1EDX.clflush | Leaf1EDX.fxsr | Leaf1EDX.sse | Leaf1EDX.sse2,
        extendedECX: ExtendedECX.lahfLM | ExtendedECX.abm,
        extendedEDX: ExtendedEDX.syscall | ExtendedEDX.nx | ExtendedEDX.page1GB | ExtendedEDX.rdtscp
            | ExtendedEDX.longMode,
        powerManagementEDX: 1 << 8,
        physicalAddressBits: 40, linearAddressBits: 48,
        xsaveComponents: 3,
        brand: "vmm soft x86-64 CPU")
}
