import VMMKit

/// MOV to/from CR0/CR2/CR3/CR4/CR8 and DR0-7, CLTS, LMSW/SMSW (SDM vol. 3, 2.5; vol. 2, MOV CRn).
extension CPUCore {
    /// CR4 bits this CPU implements: DE, PSE, PAE, MCE, PGE, PCE, OSFXSR, OSXMMEXCPT, OSXSAVE.
    static let supportedCR4: UInt64 = 0x7f8 | (1 << 18) | (1 << 2)
    static let cr4OSXSAVE: UInt64 = 1 << 18

    mutating func requireCPL0() throws(Fault) {
        if protectedMode && cpl != 0 { throw Fault.gp() }
    }

    mutating func moveFromControlRegister(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try requireCPL0()
        let i = ins.pointee
        let value: UInt64
        switch i.reg {
        case 0: value = cr0
        case 2: value = cr2
        case 3: value = cr3
        case 4: value = cr4
        case 8: value = UInt64((machine.interruptSource?.taskPriority(vcpu: vcpuIndex) ?? 0) & 0xf)
        default: throw Fault.ud
        }
        setRegister(i.rm, i.size, value)
    }

    mutating func moveToControlRegister(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try requireCPL0()
        let i = ins.pointee
        let value = register(i.rm, i.size)
        switch i.reg {
        case 0: try writeCR0(value)
        case 2: cr2 = value
        case 3: writeCR3(value)
        case 4: try writeCR4(value)
        case 8:
            guard value >> 4 == 0 else { throw Fault.gp() }
            statistics.setTPR.increment()
            machine.interruptSource?.setTaskPriority(vcpu: vcpuIndex, UInt8(value))
            interruptsEnabled()
        default: throw Fault.ud
        }
        breakBlock = true
    }

    /// CR0 with the consistency checks of SDM vol. 3, 2.5 and 9.8.5 (long-mode activation).
    mutating func writeCR0(_ requested: UInt64) throws(Fault) {
        let value = requested | ControlBits.cr0ET
        guard value >> 32 == 0 else { throw Fault.gp() }
        let pe = value & ControlBits.cr0PE != 0, pg = value & ControlBits.cr0PG != 0
        if pg && !pe { throw Fault.gp() }
        if value & (1 << 29) != 0 && value & (1 << 30) == 0 { throw Fault.gp() } // NW without CD
        let wasPaging = cr0 & ControlBits.cr0PG != 0
        if pg && !wasPaging && efer & ControlBits.eferLME != 0 {
            guard cr4 & ControlBits.cr4PAE != 0 else { throw Fault.gp() }
            efer |= ControlBits.eferLMA
        }
        if !pg && wasPaging && longMode {
            if in64BitMode { throw Fault.gp() }
            efer &= ~ControlBits.eferLMA
        }
        let changed = cr0 ^ value
        cr0 = value
        if changed & (ControlBits.cr0PG | ControlBits.cr0WP | ControlBits.cr0PE) != 0 { tlb.flushAll() }
        modeChanged()
    }

    mutating func writeCR3(_ value: UInt64) {
        cr3 = longMode ? value & Self.physicalAddressMask : value & 0xffff_ffff
        tlb.switchAddressSpace(cr3: cr3)
        selectTLBs()
    }

    mutating func writeCR4(_ value: UInt64) throws(Fault) {
        guard value & ~Self.supportedCR4 == 0 else { throw Fault.gp() }
        if longMode && value & ControlBits.cr4PAE == 0 { throw Fault.gp() }
        let changed = cr4 ^ value
        cr4 = value
        if changed & (ControlBits.cr4PAE | ControlBits.cr4PGE | 0x10) != 0 { tlb.flushAll() }
        modeChanged()
    }

    mutating func moveFromDebugRegister(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try requireCPL0()
        try checkGeneralDetect()
        let i = ins.pointee
        let value: UInt64
        switch i.reg {
        case 0: value = debug.dr0
        case 1: value = debug.dr1
        case 2: value = debug.dr2
        case 3: value = debug.dr3
        case 4, 6:
            if i.reg == 4 && cr4 & Self.cr4DebugExtensions != 0 { throw Fault.ud }
            value = debug.dr6
        case 5, 7:
            if i.reg == 5 && cr4 & Self.cr4DebugExtensions != 0 { throw Fault.ud }
            value = debug.dr7
        default: throw Fault.ud
        }
        setRegister(i.rm, i.size, value)
    }

    /// DR7 enables send the execution loop to its stepping path (`debugStepping`), so a write ends
    /// the block; data breakpoints need their pages out of the TLB (`debugRegistersChanged`); I/O
    /// breakpoints are checked at each port access (`noteIOAccess`). A 1 in bits 63:32 of DR6 or
    /// DR7 is #GP(0) (SDM vol. 2, MOV DR).
    mutating func moveToDebugRegister(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try requireCPL0()
        try checkGeneralDetect()
        let i = ins.pointee
        let value = register(i.rm, i.size)
        switch i.reg {
        case 0: debug.dr0 = value; debugRegistersChanged()
        case 1: debug.dr1 = value; debugRegistersChanged()
        case 2: debug.dr2 = value; debugRegistersChanged()
        case 3: debug.dr3 = value; debugRegistersChanged()
        case 4, 6:
            if i.reg == 4 && cr4 & Self.cr4DebugExtensions != 0 { throw Fault.ud }
            if value >> 32 != 0 { throw Fault.gp() }
            debug.dr6 = (value & 0xf00f) | 0xffff_0ff0
        case 5, 7:
            if i.reg == 5 && cr4 & Self.cr4DebugExtensions != 0 { throw Fault.ud }
            if value >> 32 != 0 { throw Fault.gp() }
            debug.dr7 = (value & 0xffff_2bff) | 0x400
            debugRegistersChanged()
        default: throw Fault.ud
        }
    }

    mutating func clts() throws(Fault) {
        try requireCPL0()
        cr0 &= ~UInt64(8)
        modeChanged() // SSE may now run in translated code (`TranslationAssumptions.sseUsable`)
    }

    /// LMSW changes PE (set only), MP, EM, TS.
    mutating func lmsw(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try requireCPL0()
        let value = try readRM(ins, 2)
        let keepPE = cr0 & 1
        try writeCR0((cr0 & ~0xf) | (value & 0xf) | keepPE)
    }

    mutating func smsw(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        if i.isMemory {
            try writeMemory(ins, 2, cr0 & 0xffff)
        } else {
            setRegister(i.rm, i.size, cr0 & Self.mask(i.size))
        }
    }
}
