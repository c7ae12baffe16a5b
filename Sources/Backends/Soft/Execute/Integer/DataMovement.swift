#if arch(x86_64)
import CHostALU
#endif

/// MOV and friends, exchanges, sign/zero extension, byte swaps (SDM vol. 2).
extension CPUCore {
    @inline(__always)
    mutating func movRegReg(_ ins: UnsafePointer<DecodedInstruction>) {
        let mask = ins.pointee.mask
        setRegister(ins.pointee.rm, mask: mask, register(ins.pointee.reg, mask: mask))
    }

    @inline(__always)
    mutating func movRegMem(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let value = try readMemory(ins, ins.pointee.size)
        setRegister(ins.pointee.reg, mask: ins.pointee.mask, value)
    }

    @inline(__always)
    mutating func movMemReg(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try writeMemory(ins, ins.pointee.size, register(ins.pointee.reg, mask: ins.pointee.mask))
    }

    @inline(__always)
    mutating func movzx(_ ins: UnsafePointer<DecodedInstruction>, signed: Bool) throws(Fault) {
        let sourceSize = ins.pointee.sub
        let source = try readRM(ins, sourceSize)
        setRegister(ins.pointee.reg, mask: ins.pointee.mask, signed ? Self.signExtend(source, sourceSize) : source)
    }

    /// The dedicated MOVZX forms (see `SpecialisedForms.swift`): a 4/8-byte destination and constant
    /// source size and kind, so neither the size switch of the load nor the register tests remain.
    @inline(__always)
    mutating func zeroExtend(_ ins: UnsafePointer<DecodedInstruction>, from sourceSize: UInt8, memory: Bool) throws(Fault) {
        let source = memory ? try readMemory(ins, sourceSize)
                            : register(ins.pointee.rm, mask: Self.mask(sourceSize), wide: sourceSize >= 2)
        setRegister(ins.pointee.reg, mask: ins.pointee.mask, wide: true, source)
    }

    /// MOVSXD: with REX.W sign-extends a dword; without it behaves as a 32/16-bit MOV.
    mutating func movsxd(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let source = try readRM(ins, min(i.size, 4))
        setRegister(i.reg, i.size, i.size == 8 ? Self.signExtend(source, 4) : source)
    }

    mutating func movbe(_ ins: UnsafePointer<DecodedInstruction>, load: Bool) throws(Fault) {
        let i = ins.pointee
        if load {
            let value = try readMemory(ins, i.size)
            setRegister(i.reg, i.size, Self.byteSwap(value, i.size))
        } else {
            try writeMemory(ins, i.size, Self.byteSwap(register(i.reg, i.size), i.size))
        }
    }

    static func byteSwap(_ value: UInt64, _ size: UInt8) -> UInt64 {
        switch size {
        case 8: return value.byteSwapped
        case 4: return UInt64(UInt32(truncatingIfNeeded: value).byteSwapped)
        default: return UInt64(UInt16(truncatingIfNeeded: value).byteSwapped)
        }
    }

    /// BSWAP r16 is undefined: the host's result on an x86-64 host (as translated code gets), else
    /// zero, which AMD and Intel processors leave.
    mutating func bswap(_ ins: UnsafePointer<DecodedInstruction>) {
        let i = ins.pointee
        #if arch(x86_64)
        if i.size == 2 { return setRegister(i.rm, 8, host_bswap16(register(i.rm, 8))) }
        #endif
        setRegister(i.rm, i.size, i.size == 2 ? 0 : Self.byteSwap(register(i.rm, i.size), i.size))
    }

    mutating func xchg(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        if i.isMemory {
            let value = register(i.reg, i.size)
            let old = try readModifyWrite(Int(i.segment), effectiveAddress(ins), i.size, locked: true) { _ in value }
            setRegister(i.reg, i.size, old)
        } else {
            let old = register(i.rm, i.size)
            setRegister(i.rm, i.size, register(i.reg, i.size))
            setRegister(i.reg, i.size, old)
        }
    }

    mutating func xadd(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let source = register(i.reg, i.size)
        if i.isMemory {
            let mask = i.mask
            let destination = try readModifyWrite(Int(i.segment), effectiveAddress(ins), i.size, locked: i.isLocked) {
                ($0 &+ source) & mask
            }
            _ = alu(0, destination, source, i.size)
            setRegister(i.reg, i.size, destination)
        } else {
            let destination = register(i.rm, i.size)
            let sum = alu(0, destination, source, i.size)
            setRegister(i.reg, i.size, destination)
            setRegister(i.rm, i.size, sum)
        }
    }

    /// CMPXCHG: the accumulator is compared with the destination (flags as CMP). The write permission
    /// is checked either way; on a mismatch nothing is stored, so a concurrent store by another vCPU
    /// is never overwritten with a stale value.
    mutating func cmpxchg(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let accumulator = register(0, i.size)
        if i.isMemory {
            let replacement = register(i.reg, i.size)
            let destination = try readModifyWrite(Int(i.segment), effectiveAddress(ins), i.size, locked: i.isLocked) {
                $0 == accumulator ? replacement : nil
            }
            _ = alu(7, accumulator, destination, i.size)
            if accumulator != destination { setRegister(0, i.size, destination) }
        } else {
            let destination = register(i.rm, i.size)
            _ = alu(7, accumulator, destination, i.size)
            if accumulator == destination {
                setRegister(i.rm, i.size, register(i.reg, i.size))
            } else {
                setRegister(0, i.size, destination)
            }
        }
    }

    /// CMPXCHG8B / CMPXCHG16B: EDX:EAX (RDX:RAX) against the operand, ECX:EBX (RCX:RBX) stored on a
    /// match; 16B needs a 16-byte aligned operand (#GP otherwise). Only ZF changes.
    mutating func cmpxchgWide(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let segment = Int(i.segment), offset = effectiveAddress(ins)
        let half: UInt8 = i.size == 16 ? 8 : 4
        let expected = (register(0, half), register(2, half)), replacement = (register(3, half), register(1, half))
        let old: (UInt64, UInt64)
        if half == 4 {
            let match = expected.1 << 32 | expected.0, new = replacement.1 << 32 | replacement.0
            let value = try readModifyWrite(segment, offset, 8, locked: i.isLocked) { $0 == match ? new : nil }
            old = (value & 0xffff_ffff, value >> 32)
        } else {
            guard offset & 15 == 0 else { throw Fault.gp() }
            old = try compareExchange16(segment, offset, locked: i.isLocked, expected: expected, replacement: replacement)
        }
        let equal = old == expected
        if !equal {
            setRegister(0, half, old.0)
            setRegister(2, half, old.1)
        }
        flags.set(RFlags.zf, equal)
    }

    /// CBW/CWDE/CDQE.
    mutating func cbw(_ size: UInt8) {
        setRegister(0, size, Self.signExtend(register(0, size / 2), size / 2))
    }

    /// CWD/CDQ/CQO.
    mutating func cwd(_ size: UInt8) {
        let negative = register(0, size) & Self.signBit(size) != 0
        setRegister(2, size, negative ? UInt64.max : 0)
    }

    /// LAHF/SAHF: SF ZF AF PF CF <-> AH (SDM vol. 2, LAHF).
    mutating func lahf() {
        let value = flags.value
        setRegister(16, 1, (value & 0xd5) | 2)
    }

    mutating func sahf() {
        flags.materialize()
        let ah = register(16, 1)
        flags.setArithmetic((flags.stored & RFlags.of) | (ah & 0xd5))
    }

    mutating func xlat(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let mask = Self.mask(i.addressSize)
        let offset = (register(3, i.addressSize) &+ register(0, 1)) & mask
        let value = try read(Int(i.segment), offset, 1)
        setRegister(0, 1, value)
    }
}
