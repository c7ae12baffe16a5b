/// MOVS/CMPS/STOS/LODS/SCAS/INS/OUTS with REP/REPE/REPNE in both directions (SDM vol. 2, REP).
/// A long repeat runs in slices: after `sliceLength` elements the instruction is restarted, so
/// interrupts and stop requests are seen (the architecture allows this: the registers are updated
/// per element).
extension CPUCore {
    private static let sliceLength = 4096

    mutating func string(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        let i = ins.pointee
        let size = i.size, addressSize = i.addressSize
        let step = flags.stored & RFlags.df != 0 ? 0 &- UInt64(size) : UInt64(size)
        let repeating = i.hasRep
        var remaining = repeating ? register(1, addressSize) : 1
        guard remaining != 0 else { return }
        let kind = i.sub
        let source = Int(i.segment)
        if kind >= 5 { try checkIOPermission(UInt16(truncatingIfNeeded: gpr[2]), size) }
        var done = 0
        // Under TF each iteration is one step: the trap comes after it, at the instruction, with the
        // count left (the register state an interrupt between iterations sees, SDM vol. 2, REP), as
        // on hardware and under QEMU TCG (sys_exceptions64 compares).
        let slice = flags.stored & RFlags.tf != 0 ? 1 : Self.sliceLength
        let bulk = repeating && (kind == 0 || kind == 2) && step == UInt64(size)
        while true {
            // REP MOVS/STOS forward take whole pages at once where they can; otherwise one element.
            var elements = bulk ? repeatWithinPages(kind, size: size, addressSize: addressSize, source: source,
                                                    count: min(remaining, UInt64(slice - done))) : 0
            if elements == 0 {
                try stringElement(kind, ins, step: step, source: source)
                guard repeating else { return }
                elements = 1
            }
            remaining &-= UInt64(elements)
            setRegister(1, addressSize, remaining)
            if remaining == 0 { return }
            if kind == 1 || kind == 4 {
                // REPE stops on ZF=0, REPNE on ZF=1.
                let zero = flags.zf
                if i.prefixes & DecodedInstruction.repz != 0 ? !zero : zero { return }
            }
            done += elements
            // A data or I/O breakpoint traps after the iteration that hit it, with RIP at the
            // instruction and the count left (SDM vol. 3, 18.3.1.2).
            if done >= slice || dataBreakpointHits != 0 {
                nextRip = rip
                breakBlock = true
                return
            }
        }
    }

    /// One element of string operation `kind`, advancing RSI/RDI by `step`.
    @inline(__always)
    private mutating func stringElement(_ kind: UInt8, _ ins: UnsafePointer<DecodedInstruction>, step: UInt64,
                                        source: Int) throws(Fault) {
        let size = ins.pointee.size, addressSize = ins.pointee.addressSize
        let addressMask = Self.mask(addressSize)
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
            let value = try read(source, si, size)
            setRegister(0, size, value)
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
    }

    /// REP MOVS or STOS going forward: as many of the next `count` elements as lie within the current
    /// source and destination pages, done at once on host memory when the software TLB maps those
    /// pages (so they are plain RAM, not MMIO, code or page tables, whose writes must be seen one by
    /// one); advances RSI/RDI and returns the elements done, 0 when the element-by-element path must
    /// run (a TLB miss, a segment limit to check, an address-size wrap). Operating systems clear and
    /// copy pages this way, megabytes at a time.
    private mutating func repeatWithinPages(_ kind: UInt8, size: UInt8, addressSize: UInt8, source: Int,
                                            count: UInt64) -> Int {
        guard !segmentNeedsLimitCheck[Segment.es] else { return 0 }
        let width = UInt64(size), addressMask = Self.mask(addressSize)
        let di = register(7, addressSize)
        let target = (segmentBase[Segment.es] &+ di) & linearMask
        var elements = min(count, (0x1000 - (target & 0xfff)) / width, (addressMask - di) / width)
        let writeEntry = tlbWrite[SoftTLB.slot(target)]
        guard elements > 0, writeEntry.tag == target >> 12 else { return 0 }
        let destination = writeEntry.host + Int(target & 0xfff)
        if kind == 2 { // STOS
            let value = register(0, size)
            if size == 1 {
                destination.initializeMemory(as: UInt8.self, repeating: UInt8(truncatingIfNeeded: value), count: Int(elements))
            } else {
                for index in 0..<Int(elements) { Self.store(destination + index * Int(size), size, value) }
            }
        } else { // MOVS
            guard !segmentNeedsLimitCheck[source] else { return 0 }
            let si = register(6, addressSize)
            let from = (segmentBase[source] &+ si) & linearMask
            elements = min(elements, (0x1000 - (from & 0xfff)) / width, (addressMask - si) / width)
            let readEntry = tlbRead[SoftTLB.slot(from)]
            guard elements > 0, readEntry.tag == from >> 12 else { return 0 }
            let origin = UnsafeRawPointer(readEntry.host + Int(from & 0xfff))
            let bytes = Int(elements * width)
            if UnsafeRawPointer(destination) <= origin || UnsafeRawPointer(destination) >= origin + bytes {
                destination.copyMemory(from: origin, byteCount: bytes) // memmove: no overlap, or forward-safe
            } else {
                // The destination starts inside the source: element by element, as the hardware
                // copies, repeating the overlap's pattern.
                for index in 0..<Int(elements) {
                    let offset = index * Int(size)
                    Self.store(destination + offset, size, Self.load(UnsafeMutableRawPointer(mutating: origin + offset), size))
                }
            }
            setRegister(6, addressSize, (si &+ elements * width) & addressMask)
        }
        setRegister(7, addressSize, (di &+ elements * width) & addressMask)
        return Int(elements)
    }
}
