import CHostX87
import VMMKit

/// FXSAVE/FXRSTOR, XSAVE/XRSTOR (x87 and SSE components), LDMXCSR/STMXCSR, XGETBV/XSETBV
/// (SDM vol. 1, 10.5 and 13; vol. 2).
extension CPUCore {
    /// MXCSR bits this CPU accepts; others raise #GP on load. The host's SSE unit runs with the
    /// guest's MXCSR (SSEHostExecution.swift), so these are the host's, DAZ included where it has
    /// it, and never above bit 15 (AMD's MM, misaligned SSE, is not offered).
    static let mxcsrMask: UInt32 = host_sse_mxcsr_mask() & 0xffff
    static let xsaveSupported: UInt64 = 3

    mutating func ldmxcsr(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let value = UInt32(truncatingIfNeeded: try readMemory(ins, 4))
        guard value & ~Self.mxcsrMask == 0 else { throw Fault.gp() }
        mxcsr = value
    }

    mutating func stmxcsr(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        try writeMemory(ins, 4, UInt64(mxcsr))
    }

    private var xmmRegisterCount: Int { in64BitMode ? 16 : 8 }

    /// The legacy region's x87 part (bytes 0-159). `wide` = REX.W form (64-bit FIP/FDP).
    private mutating func saveX87(_ segment: Int, _ base: UInt64, wide: Bool) throws(Fault) {
        try write(segment, base, 2, UInt64(x87.controlWord))
        try write(segment, base &+ 2, 2, UInt64(x87.statusWord))
        try write(segment, base &+ 4, 2, UInt64(x87.tagWord))
        try write(segment, base &+ 6, 2, UInt64(x87.lastOpcode))
        if wide {
            try write(segment, base &+ 8, 8, x87.lastInstructionPointer)
            try write(segment, base &+ 16, 8, x87.lastDataPointer)
        } else {
            // The 32-bit format: FIP, FCS, FDP, FDS (SDM vol. 1, table 10-2).
            try write(segment, base &+ 8, 8, x87.lastInstructionPointer & 0xffff_ffff | UInt64(x87.lastCodeSelector) << 32)
            try write(segment, base &+ 16, 8, x87.lastDataPointer & 0xffff_ffff | UInt64(x87.lastDataSelector) << 32)
        }
        for index in 0..<8 {
            try write(segment, base &+ 32 &+ UInt64(index * 16), 8, x87Registers[index * 2])
            try write(segment, base &+ 40 &+ UInt64(index * 16), 8, x87Registers[index * 2 + 1] & 0xffff)
        }
    }

    private mutating func restoreX87(_ segment: Int, _ base: UInt64) throws(Fault) {
        x87.controlWord = UInt16(truncatingIfNeeded: try read(segment, base, 2))
        x87.statusWord = UInt16(truncatingIfNeeded: try read(segment, base &+ 2, 2))
        x87.tagWord = UInt8(truncatingIfNeeded: try read(segment, base &+ 4, 1))
        x87.lastOpcode = UInt16(truncatingIfNeeded: try read(segment, base &+ 6, 2))
        x87.lastInstructionPointer = try read(segment, base &+ 8, 8)
        x87.lastDataPointer = try read(segment, base &+ 16, 8)
        for index in 0..<8 {
            x87Registers[index * 2] = try read(segment, base &+ 32 &+ UInt64(index * 16), 8)
            x87Registers[index * 2 + 1] = try read(segment, base &+ 40 &+ UInt64(index * 16), 2)
        }
    }

    private mutating func saveSSE(_ segment: Int, _ base: UInt64) throws(Fault) {
        for index in 0..<xmmRegisterCount {
            try write(segment, base &+ 160 &+ UInt64(index * 16), 8, xmm[index * 2])
            try write(segment, base &+ 168 &+ UInt64(index * 16), 8, xmm[index * 2 + 1])
        }
    }

    private mutating func restoreSSE(_ segment: Int, _ base: UInt64) throws(Fault) {
        for index in 0..<xmmRegisterCount {
            xmm[index * 2] = try read(segment, base &+ 160 &+ UInt64(index * 16), 8)
            xmm[index * 2 + 1] = try read(segment, base &+ 168 &+ UInt64(index * 16), 8)
        }
    }

    private mutating func loadMXCSR(_ segment: Int, _ base: UInt64) throws(Fault) {
        let value = UInt32(truncatingIfNeeded: try read(segment, base &+ 24, 4))
        guard value & ~Self.mxcsrMask == 0 else { throw Fault.gp() }
        mxcsr = value
    }

    private mutating func storeMXCSR(_ segment: Int, _ base: UInt64) throws(Fault) {
        try write(segment, base &+ 24, 4, UInt64(mxcsr))
        try write(segment, base &+ 28, 4, UInt64(Self.mxcsrMask))
    }

    mutating func fxsave(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkX87()
        let segment = Int(ins.pointee.segment), base = effectiveAddress(ins)
        guard base & 15 == 0 else { throw Fault.gp() }
        try saveX87(segment, base, wide: ins.pointee.size == 8)
        try storeMXCSR(segment, base)
        if cr4 & ControlBits.cr4OSFXSR != 0 { try saveSSE(segment, base) }
    }

    mutating func fxrstor(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkX87()
        let segment = Int(ins.pointee.segment), base = effectiveAddress(ins)
        guard base & 15 == 0 else { throw Fault.gp() }
        try loadMXCSR(segment, base)
        try restoreX87(segment, base)
        if cr4 & ControlBits.cr4OSFXSR != 0 { try restoreSSE(segment, base) }
    }

    private func requestedFeatureBitmap() -> UInt64 {
        xcr0 & ((gpr[2] << 32) | (gpr[0] & 0xffff_ffff))
    }

    mutating func xsave(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        guard cr4 & Self.cr4OSXSAVE != 0 else { throw Fault.ud }
        if cr0 & 8 != 0 { throw Fault.nm }
        let segment = Int(ins.pointee.segment), base = effectiveAddress(ins)
        guard base & 63 == 0 else { throw Fault.gp() }
        let features = requestedFeatureBitmap()
        if features & 1 != 0 { try saveX87(segment, base, wide: ins.pointee.size == 8) }
        if features & 2 != 0 {
            try storeMXCSR(segment, base)
            try saveSSE(segment, base)
        }
        let header = base &+ 512
        let stateBV = try read(segment, header, 8)
        try write(segment, header, 8, (stateBV & ~features) | features)
    }

    mutating func xrstor(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        guard cr4 & Self.cr4OSXSAVE != 0 else { throw Fault.ud }
        if cr0 & 8 != 0 { throw Fault.nm }
        let segment = Int(ins.pointee.segment), base = effectiveAddress(ins)
        guard base & 63 == 0 else { throw Fault.gp() }
        let header = base &+ 512
        let stateBV = try read(segment, header, 8)
        let compactionBV = try read(segment, header &+ 8, 8)
        // Standard format only; XSTATE_BV may not name unsupported components (SDM vol. 1, 13.8.1).
        guard compactionBV == 0, stateBV & ~Self.xsaveSupported == 0 else { throw Fault.gp() }
        let features = requestedFeatureBitmap()
        if features & 1 != 0 {
            if stateBV & 1 != 0 {
                try restoreX87(segment, base)
            } else {
                x87 = X87State()
                x87Registers.update(repeating: 0, count: 16)
            }
        }
        if features & 2 != 0 {
            try loadMXCSR(segment, base)
            if stateBV & 2 != 0 {
                try restoreSSE(segment, base)
            } else {
                xmm.update(repeating: 0, count: xmmRegisterCount * 2)
            }
        }
    }

    mutating func xgetbv() throws(Fault) {
        guard cr4 & Self.cr4OSXSAVE != 0 else { throw Fault.ud }
        guard gpr[1] & 0xffff_ffff == 0 else { throw Fault.gp() }
        gpr[0] = xcr0 & 0xffff_ffff
        gpr[2] = xcr0 >> 32
    }

    /// XCR0 must keep x87 (bit 0) and may add SSE (bit 1) only (SDM vol. 1, 13.3).
    mutating func xsetbv() throws(Fault) {
        guard cr4 & Self.cr4OSXSAVE != 0 else { throw Fault.ud }
        try requireCPL0()
        let value = (gpr[2] << 32) | (gpr[0] & 0xffff_ffff)
        guard gpr[1] & 0xffff_ffff == 0, value & 1 != 0, value & ~Self.xsaveSupported == 0 else { throw Fault.gp() }
        xcr0 = value
    }
}
