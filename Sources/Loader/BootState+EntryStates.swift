import VMMKit

/// The entry states vmm's boot protocols define, on the boot GDT and page tables of a `BootLayout`.
extension BootState {
    /// 32-bit protected mode, flat segments, paging off, interrupts off: the entry state of the
    /// Multiboot spec (0.6.96, 3.2) and of PVH (xen start_info.h), which differ only in EAX/EBX.
    /// GDTR points at the boot GDT in `layout`.
    public static func flatProtectedMode(entry: UInt32, eax: UInt32, ebx: UInt32,
                                         layout: BootLayout = .standard) -> BootState {
        var state = BootState()
        state.general.rip = UInt64(entry)
        state.general.rax = UInt64(eax)
        state.general.rbx = UInt64(ebx)
        state.system.cs = BootGDT.code32
        for keyPath in [\SystemRegisters.ds, \.es, \.fs, \.gs, \.ss] { state.system[keyPath: keyPath] = BootGDT.data }
        state.system.tr = BootGDT.taskRegister
        state.system.ldt = BootGDT.noLDT
        state.system.gdt = BootGDT.register(base: layout.gdt)
        state.system.idt = DescriptorTableRegister(base: 0, limit: 0)
        state.system.cr0 = ControlBits.cr0PE | ControlBits.cr0ET
        return state
    }

    /// 64-bit long mode with paging through the identity map at `layout.pageTables` (see
    /// `IdentityPageTables`) and the stack at `layout.stackTop`: the entry state of a plain ELF64 kernel.
    public static func longMode(entry: UInt64, rsi: UInt64 = 0, layout: BootLayout = .standard) -> BootState {
        var state = flatProtectedMode(entry: 0, eax: 0, ebx: 0, layout: layout)
        state.general.rip = entry
        state.general.rsi = rsi
        state.general.rsp = layout.stackTop
        state.system.cs = BootGDT.code64
        state.system.cr3 = layout.pageTables
        state.system.cr4 = ControlBits.cr4PAE
        state.system.cr0 = ControlBits.cr0PE | ControlBits.cr0ET | ControlBits.cr0PG | ControlBits.cr0WP
        state.system.efer = ControlBits.eferLME | ControlBits.eferLMA | ControlBits.eferNXE
        return state
    }
}
