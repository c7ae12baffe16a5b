/// CLC/STC/CMC/CLD/STD/CLI/STI and port I/O with IOPL and the TSS I/O bitmap (SDM vol. 1, 19.5).
extension CPUCore {
    mutating func flagOp(_ kind: UInt8) throws(Fault) {
        switch kind {
        case 0: flags.set(RFlags.cf, false)
        case 1: flags.set(RFlags.cf, true)
        case 2: flags.set(RFlags.cf, !flags.cf)
        case 3: flags.stored &= ~RFlags.df
        case 4: flags.stored |= RFlags.df
        case 5:
            if protectedMode && (v86Mode ? iopl < 3 : cpl > iopl) { throw Fault.gp() }
            flags.stored &= ~RFlags.if
        default:
            if protectedMode && (v86Mode ? iopl < 3 : cpl > iopl) { throw Fault.gp() }
            if flags.stored & RFlags.if == 0 {
                flags.stored |= RFlags.if
                interruptShadow = true // STI: interrupts wait until after the next instruction
                interruptsEnabled()
            }
        }
    }

    mutating func interruptsEnabled() {
        checkInterrupts = true
        breakBlock = true
    }

    /// IN/OUT: sub bit 0 = OUT, bit 1 = port in DX.
    mutating func io(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let port = i.sub & 2 != 0 ? UInt16(truncatingIfNeeded: gpr[2]) : UInt16(truncatingIfNeeded: i.imm)
        try checkIOPermission(port, i.size)
        if i.sub & 1 != 0 {
            portWrite(port, i.size, register(0, i.size))
        } else {
            setRegister(0, i.size, portRead(port, i.size))
        }
    }

    /// Above IOPL (or in virtual-8086 mode) every byte of the access must be clear in the TSS I/O
    /// permission bitmap, else #GP(0) (SDM vol. 1, 19.5.2).
    mutating func checkIOPermission(_ port: UInt16, _ size: UInt8) throws(Fault) {
        guard protectedMode && (cpl > iopl || v86Mode) else { return }
        let tr = segments[Segment.tr]
        guard tr.limit >= 0x67, tr.type & 0x9 == 0x9 else { throw Fault.gp() }
        let mapBase = try readSupervisor(tr.base &+ 0x66, 2)
        let byteOffset = mapBase &+ UInt64(port >> 3)
        guard byteOffset &+ 1 <= UInt64(tr.limit) else { throw Fault.gp() }
        let bitmap = try readSupervisor(tr.base &+ byteOffset, 2)
        let bits = ((UInt64(1) << UInt64(size)) - 1) << UInt64(port & 7)
        if bitmap & bits != 0 { throw Fault.gp() }
    }

    mutating func portRead(_ port: UInt16, _ size: UInt8) -> UInt64 {
        statistics.portIO.increment()
        if debug.dr7 & Self.dr7Enables != 0 { noteIOAccess(port, size) }
        return machine.ports.read(UInt64(port), size: Int(size), vcpu: vcpuIndex) & Self.mask(size)
    }

    /// The port Linux's io_delay writes to wait a bus cycle (arch/x86/kernel/io_delay.c). With
    /// KVM_FEATURE_NOP_IO_DELAY offered, a guest that still writes it (early boot code, other
    /// kernels) gets the write dropped here, costing no bus dispatch and no exit; KVM's own
    /// handling of port 0x80 is no exit to userspace either.
    static let delayPort: UInt16 = 0x80

    mutating func portWrite(_ port: UInt16, _ size: UInt8, _ value: UInt64) {
        // An I/O breakpoint sees the access even when the write goes nowhere.
        if debug.dr7 & Self.dr7Enables != 0 { noteIOAccess(port, size) }
        if port == Self.delayPort && paravirtual.contains(.pvIODelay) {
            statistics.ioDelays.increment()
            return
        }
        // A doorbell wakes its device's thread from here: no exit, no bus lock (KVM: an ioeventfd).
        if machine.ports.doorbells.ring(UInt64(port), size: Int(size), value: value) {
            statistics.doorbells.increment()
            return
        }
        statistics.portIO.increment()
        machine.ports.write(UInt64(port), size: Int(size), value: value & Self.mask(size), vcpu: vcpuIndex)
        // A device may have raised an interrupt or a stop request: look before the next block.
        breakBlock = true
        checkInterrupts = true
    }
}
