/// MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS with REP/REPE/REPNE in both directions (SDM vol. 2, REP).
/// A long repeat runs in slices: after `sliceLength` elements the instruction is restarted, so
/// interrupts and stop requests are seen (the architecture allows this: the registers are updated
/// per element).
extension CPUCore {
    private static let sliceLength = 4096

    mutating func string(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let size = i.size, addressSize = i.addressSize
        let addressMask = Self.mask(addressSize)
        let step = flags.stored & RFlags.df != 0 ? 0 &- UInt64(size) : UInt64(size)
        let repeating = i.hasRep
        var remaining = repeating ? register(1, addressSize) : 1
        guard remaining != 0 else { return }
        let kind = i.sub
        let source = Int(i.segment)
        if kind >= 5 { try checkIOPermission(UInt16(truncatingIfNeeded: gpr[2]), size) }
        var done = 0
        while true {
            let si = register(6, addressSize), di = register(7, addressSize)
            switch kind {
            case 0: // MOVS
                try write(Segment.es, di, size, try read(source, si, size))
                setRegister(6, addressSize, (si &+ step) & addressMask)
                setRegister(7, addressSize, (di &+ step) & addressMask)
            case 1: // CMPS: [rSI] - [rDI]
                let a = try read(source, si, size), b = try read(Segment.es, di, size)
                _ = alu(7, a, b, size)
                setRegister(6, addressSize, (si &+ step) & addressMask)
                setRegister(7, addressSize, (di &+ step) & addressMask)
            case 2: // STOS
                try write(Segment.es, di, size, register(0, size))
                setRegister(7, addressSize, (di &+ step) & addressMask)
            case 3: // LODS
                setRegister(0, size, try read(source, si, size))
                setRegister(6, addressSize, (si &+ step) & addressMask)
            case 4: // SCAS: rAX - [rDI]
                _ = alu(7, register(0, size), try read(Segment.es, di, size), size)
                setRegister(7, addressSize, (di &+ step) & addressMask)
            case 5: // INS
                let value = portRead(UInt16(truncatingIfNeeded: gpr[2]), size)
                try write(Segment.es, di, size, value)
                setRegister(7, addressSize, (di &+ step) & addressMask)
            default: // OUTS
                let value = try read(source, si, size)
                portWrite(UInt16(truncatingIfNeeded: gpr[2]), size, value)
                setRegister(6, addressSize, (si &+ step) & addressMask)
            }
            guard repeating else { return }
            remaining &-= 1
            setRegister(1, addressSize, remaining)
            if remaining == 0 { return }
            if kind == 1 || kind == 4 {
                // REPE stops on ZF=0, REPNE on ZF=1.
                let zero = flags.zf
                if i.prefixes & DecodedInstruction.repz != 0 ? !zero : zero { return }
            }
            done += 1
            if done >= Self.sliceLength {
                nextRip = rip
                breakBlock = true
                return
            }
        }
    }
}
