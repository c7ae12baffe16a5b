import CHostX87

/// The x87 data instructions (loads, stores, arithmetic, compares, transcendentals, FXCH, FCMOVcc,
/// FFREE, FINCSTP/FDECSTP, FNOP) run on the host's x87 unit with the guest's registers, status and
/// control words; CHostX87.h says why this is the faithful way. What stays here is what the host
/// cannot know: the guest's memory, its #NM/#MF rules, and the last-instruction pointers.
extension CPUCore {
    /// FXSAVE image offsets (SDM vol. 1, 10.5.1, table 10-2).
    private static let imageControl = 0, imageStatus = 2, imageTag = 4, imageMXCSR = 24, imageRegisters = 32

    mutating func x87Host(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkX87()
        try raisePendingX87Exception()
        guard host_x87_available() != 0 else { throw Fault.ud }
        let i = ins.pointee
        let bytes = Int(i.imm2)
        let writes = i.sub == 1
        var call = host_x87_call()
        call.stub = UInt32(truncatingIfNeeded: i.imm & 0xffff)
        flags.materialize()
        call.rflags = flags.stored
        fillImage(&call)
        let address = bytes != 0 ? effectiveAddress(ins) : 0
        if bytes != 0 && !writes {
            let low = try read(Int(i.segment), address, UInt8(min(bytes, 8)))
            let high = bytes > 8 ? try read(Int(i.segment), address &+ 8, 2) : 0
            withUnsafeMutableBytes(of: &call.memory) { memory in
                memory.storeBytes(of: low, toByteOffset: 0, as: UInt64.self)
                memory.storeBytes(of: UInt16(truncatingIfNeeded: high), toByteOffset: 8, as: UInt16.self)
            }
        }
        host_x87_execute(&call)
        let status = withUnsafeBytes(of: &call.image) { $0.loadUnaligned(fromByteOffset: Self.imageStatus, as: UInt16.self) }
        // An unmasked invalid-operation, denormal, overflow or underflow exception leaves the
        // destination unchanged (SDM vol. 1, 8.5.1.2, 8.5.2, 8.5.4, 8.5.5); only a precision
        // exception still stores. The flags raised before were all masked (no exception was pending).
        if writes && status & ~x87.controlWord & 0x1f == 0 {
            let (low, high) = withUnsafeBytes(of: &call.memory) {
                ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self), $0.loadUnaligned(fromByteOffset: 8, as: UInt16.self))
            }
            // A fault here leaves the x87 state as it was (it is committed below). An m80 store
            // crossing into a page that faults has written its first 8 bytes, unlike hardware.
            try write(Int(i.segment), address, UInt8(min(bytes, 8)), low)
            if bytes > 8 { try write(Int(i.segment), address &+ 8, 2, UInt64(high)) }
        }
        // The instruction completed: commit the host's results.
        takeImage(&call)
        setFlags(call.rflags, changeable: RFlags.arithmetic)
        let lastOpcode = UInt16(truncatingIfNeeded: i.imm >> 16)
        if !Self.isX87ControlInstruction(lastOpcode) {
            x87.lastOpcode = lastOpcode
            x87.lastInstructionPointer = rip
            x87.lastCodeSelector = segments[Segment.cs].selector
            if bytes != 0 {
                x87.lastDataPointer = address
                x87.lastDataSelector = segments[Int(i.segment)].selector
            }
        }
    }

    /// FFREE, FINCSTP, FDECSTP and FNOP are control instructions: they leave FOP, FIP and FDP
    /// alone (SDM vol. 1, 8.1.8 and 8.3.12).
    private static func isX87ControlInstruction(_ lastOpcode: UInt16) -> Bool {
        switch lastOpcode {
        case 0x1d0, 0x1f6, 0x1f7, 0x5c0...0x5c7: return true
        default: return false
        }
    }

    /// #MF at a waiting x87 instruction while an unmasked exception is pending: ES set, or an
    /// exception flag whose mask is clear (SDM vol. 1, 8.6 and 8.7). CR0.NE = 0 (the legacy FERR#
    /// and IRQ 13 report) is treated as CR0.NE = 1: the guest sees #MF either way.
    func raisePendingX87Exception() throws(Fault) {
        let status = x87.statusWord
        if status & 0x80 != 0 || status & ~x87.controlWord & 0x3f != 0 { throw Fault.mf }
    }

    private func fillImage(_ call: inout host_x87_call) {
        withUnsafeMutableBytes(of: &call.image) { image in
            image.storeBytes(of: x87.controlWord, toByteOffset: Self.imageControl, as: UInt16.self)
            image.storeBytes(of: x87.statusWord, toByteOffset: Self.imageStatus, as: UInt16.self)
            image.storeBytes(of: x87.tagWord, toByteOffset: Self.imageTag, as: UInt8.self)
            image.storeBytes(of: UInt32(0x1f80), toByteOffset: Self.imageMXCSR, as: UInt32.self)
            for index in 0..<8 {
                image.storeBytes(of: x87Registers[index * 2], toByteOffset: Self.imageRegisters + index * 16, as: UInt64.self)
                image.storeBytes(of: UInt16(truncatingIfNeeded: x87Registers[index * 2 + 1]),
                                 toByteOffset: Self.imageRegisters + index * 16 + 8, as: UInt16.self)
            }
        }
    }

    private mutating func takeImage(_ call: inout host_x87_call) {
        withUnsafeBytes(of: &call.image) { image in
            x87.controlWord = image.loadUnaligned(fromByteOffset: Self.imageControl, as: UInt16.self)
            x87.statusWord = image.loadUnaligned(fromByteOffset: Self.imageStatus, as: UInt16.self)
            x87.tagWord = image.load(fromByteOffset: Self.imageTag, as: UInt8.self)
            for index in 0..<8 {
                x87Registers[index * 2] = image.loadUnaligned(fromByteOffset: Self.imageRegisters + index * 16, as: UInt64.self)
                x87Registers[index * 2 + 1] = UInt64(image.loadUnaligned(fromByteOffset: Self.imageRegisters + index * 16 + 8,
                                                                         as: UInt16.self))
            }
        }
    }
}
