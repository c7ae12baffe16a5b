/// What is being delivered through the IDT, which decides the privilege check on the gate and the
/// EXT bit of error codes (SDM vol. 3, 6.12-6.14).
enum EventSource {
    case exception, external, software
}

extension CPUCore {
    /// Delivers `vector` through the IVT/IDT, pushing `returnRip` (SDM vol. 3, 6.12 and 6.14; 20.1.4
    /// for real mode). On success CS:RIP is the handler. `isFault`: the event is a fault, whose pushed
    /// RFLAGS image has RF set so that IRET restarts the instruction without its instruction breakpoint
    /// firing again (SDM vol. 3, 18.3.1.1).
    mutating func deliver(vector: UInt8, errorCode: UInt32?, source: EventSource, returnRip: UInt64,
                          isFault: Bool = false) throws(Fault) {
        flags.materialize()
        let flagsImage = flags.value | (isFault ? RFlags.rf : 0)
        if !protectedMode {
            try deliverRealMode(vector: vector, returnRip: returnRip)
        } else if longMode {
            try deliverLongMode(vector: vector, errorCode: errorCode, source: source, returnRip: returnRip,
                                flagsImage: flagsImage)
        } else {
            try deliverProtectedMode(vector: vector, errorCode: errorCode, source: source, returnRip: returnRip,
                                     flagsImage: flagsImage)
        }
        halted = false
        breakBlock = true
    }

    private mutating func deliverRealMode(vector: UInt8, returnRip: UInt64) throws(Fault) {
        let entry = UInt64(vector) * 4
        guard entry + 3 <= UInt64(idtr.limit) else { throw Fault.gp() }
        let vectorEntry = try readSupervisor(idtr.base &+ entry, 4)
        try push(flags.value & 0xffff, 2)
        try push(UInt64(segments[Segment.cs].selector), 2)
        try push(returnRip & 0xffff, 2)
        flags.stored &= ~(RFlags.if | RFlags.tf | RFlags.ac | RFlags.rf)
        let selector = UInt16(truncatingIfNeeded: vectorEntry >> 16)
        segments[Segment.cs].selector = selector
        segments[Segment.cs].base = UInt64(selector) << 4
        rip = vectorEntry & 0xffff
        modeChanged()
    }

    /// The gate's error code form: vector, IDT bit, EXT for events not caused by the instruction.
    private func gateErrorCode(_ vector: UInt8, _ source: EventSource) -> UInt32 {
        UInt32(vector) << 3 | 2 | (source == .software ? 0 : 1)
    }

    private mutating func readGate(vector: UInt8, source: EventSource, wide: Bool) throws(Fault) -> (UInt64, UInt64) {
        let entrySize: UInt64 = wide ? 16 : 8
        let offset = UInt64(vector) * entrySize
        guard offset + entrySize - 1 <= UInt64(idtr.limit) else { throw Fault.gp(gateErrorCode(vector, source)) }
        let low = try readSupervisor(idtr.base &+ offset, 8)
        let high = wide ? try readSupervisor(idtr.base &+ offset &+ 8, 8) : 0
        let type = (low >> 40) & 0x1f
        let dpl = UInt8((low >> 45) & 3)
        if source == .software && dpl < cpl { throw Fault.gp(gateErrorCode(vector, source)) }
        // Interrupt and trap gates; 16-bit ones only outside long mode. Task gates are not implemented.
        let valid = type == 0xe || type == 0xf || (!wide && (type == 0x6 || type == 0x7))
        guard valid else { throw Fault.gp(gateErrorCode(vector, source)) }
        guard low & (1 << 47) != 0 else { throw Fault.np(gateErrorCode(vector, source)) }
        return (low, high)
    }

    /// The handler's code segment from the gate: a present code segment with DPL <= CPL.
    private mutating func handlerCodeSegment(_ selector: UInt16, _ source: EventSource) throws(Fault) -> SegmentCache {
        let ext: UInt32 = source == .software ? 0 : 1
        guard selector & 0xfffc != 0 else { throw Fault.gp(ext) }
        let descriptor = try readDescriptor(selector)
        let cache = SegmentCache(selector: selector, descriptor: descriptor)
        guard cache.isCode, cache.dpl <= cpl else { throw Fault.gp(UInt32(selector & 0xfffc) | ext) }
        guard cache.present else { throw Fault.np(UInt32(selector & 0xfffc) | ext) }
        try markAccessed(selector, descriptor)
        return cache
    }

    private mutating func deliverProtectedMode(vector: UInt8, errorCode: UInt32?, source: EventSource,
                                               returnRip: UInt64, flagsImage: UInt64) throws(Fault) {
        if v86Mode { throw Fault.gp(gateErrorCode(vector, source)) } // virtual-8086 delivery is not implemented
        let (gate, _) = try readGate(vector: vector, source: source, wide: false)
        let selector = UInt16(truncatingIfNeeded: gate >> 16)
        let target = (gate & 0xffff) | ((gate >> 32) & 0xffff_0000)
        let gateType = (gate >> 40) & 0xf
        let size: UInt8 = gateType & 8 != 0 ? 4 : 2
        var handler = try handlerCodeSegment(selector, source)
        let conforming = handler.type & 4 != 0
        let newCPL = conforming ? cpl : handler.dpl
        let oldFlags = flagsImage
        let oldCS = UInt64(segments[Segment.cs].selector), oldSS = UInt64(segments[Segment.ss].selector)
        let oldESP = gpr[4]

        var stackBase: UInt64, stackPointer: UInt64, stackMask32: UInt64
        var newSS = segments[Segment.ss]
        if newCPL < cpl {
            // Inner privilege: SS:ESP for the new level from the 32-bit TSS (SDM vol. 3, 7.2.1).
            let tr = segments[Segment.tr]
            let slot = UInt64(newCPL) * 8 + 4
            guard UInt64(tr.limit) >= slot + 5 else { throw Fault.ts(UInt32(tr.selector & 0xfffc)) }
            let esp = try readSupervisor(tr.base &+ slot, 4)
            let ssSelector = UInt16(truncatingIfNeeded: try readSupervisor(tr.base &+ slot + 4, 2))
            let code = UInt32(ssSelector & 0xfffc)
            guard ssSelector & 0xfffc != 0 else { throw Fault.ts(code) }
            let descriptor = try readDescriptor(ssSelector)
            newSS = SegmentCache(selector: ssSelector, descriptor: descriptor)
            guard UInt8(ssSelector & 3) == newCPL, newSS.dpl == newCPL, newSS.codeOrData, !newSS.isCode,
                  newSS.type & 2 != 0 else { throw Fault.ts(code) }
            guard newSS.present else { throw Fault.ss(code) }
            try markAccessed(ssSelector, descriptor)
            newSS.type |= 1
            stackBase = newSS.base
            stackMask32 = newSS.db ? 0xffff_ffff : 0xffff
            stackPointer = esp
        } else {
            stackBase = segmentBase[Segment.ss]
            stackMask32 = stackMask
            stackPointer = gpr[4]
        }
        func pushValue(_ value: UInt64) throws(Fault) {
            stackPointer = (stackPointer &- UInt64(size)) & stackMask32
            try writeSupervisor((stackBase &+ stackPointer) & 0xffff_ffff, size, value)
        }
        if newCPL < cpl {
            try pushValue(oldSS)
            try pushValue(oldESP & Self.mask(size))
        }
        try pushValue(oldFlags & Self.mask(size))
        try pushValue(oldCS)
        try pushValue(returnRip & Self.mask(size))
        if let errorCode { try pushValue(UInt64(errorCode)) }

        // Commit.
        if newCPL < cpl { segments[Segment.ss] = newSS }
        segments[Segment.ss].dpl = newCPL
        gpr[4] = (gpr[4] & ~stackMask32) | stackPointer
        handler.selector = (selector & 0xfffc) | UInt16(newCPL)
        handler.type |= 1
        segments[Segment.cs] = handler
        var cleared = RFlags.tf | RFlags.nt | RFlags.rf | RFlags.vm
        if gateType & 1 == 0 { cleared |= RFlags.if }
        flags.stored &= ~cleared
        rip = target & Self.mask(size)
        modeChanged()
    }

    private mutating func deliverLongMode(vector: UInt8, errorCode: UInt32?, source: EventSource,
                                          returnRip: UInt64, flagsImage: UInt64) throws(Fault) {
        let (low, high) = try readGate(vector: vector, source: source, wide: true)
        let selector = UInt16(truncatingIfNeeded: low >> 16)
        let target = (low & 0xffff) | ((low >> 32) & 0xffff_0000) | (high << 32)
        let ist = Int(low >> 32) & 7
        var handler = try handlerCodeSegment(selector, source)
        guard handler.long && !handler.db else { throw Fault.gp(UInt32(selector & 0xfffc)) }
        let newCPL = handler.type & 4 != 0 ? cpl : handler.dpl
        let oldFlags = flagsImage
        let oldCS = UInt64(segments[Segment.cs].selector), oldSS = UInt64(segments[Segment.ss].selector)
        let oldRSP = gpr[4]

        // 64-bit TSS: RSPn at 4 + 8n, ISTn at 0x24 + 8(n-1) (SDM vol. 3, 7.7; 6.14.5).
        var stackPointer = oldRSP
        if ist != 0 || newCPL < cpl {
            let tr = segments[Segment.tr]
            let slot: UInt64 = ist != 0 ? 0x24 + UInt64(ist - 1) * 8 : 4 + UInt64(newCPL) * 8
            guard UInt64(tr.limit) >= slot + 7 else { throw Fault.ts(UInt32(tr.selector & 0xfffc)) }
            stackPointer = try readSupervisor(tr.base &+ slot, 8)
        }
        stackPointer &= ~0xf
        let upper = Int64(bitPattern: stackPointer) >> 47
        guard upper == 0 || upper == -1 else { throw Fault.ss() }
        func pushValue(_ value: UInt64) throws(Fault) {
            stackPointer &-= 8
            try writeSupervisor(stackPointer, 8, value)
        }
        try pushValue(oldSS)
        try pushValue(oldRSP)
        try pushValue(oldFlags)
        try pushValue(oldCS)
        try pushValue(returnRip)
        if let errorCode { try pushValue(UInt64(errorCode)) }

        if newCPL < cpl {
            // The new SS is a null selector with RPL = new CPL (SDM vol. 3, 6.14.4).
            var ss = SegmentCache()
            ss.selector = UInt16(newCPL)
            ss.unusable = true
            ss.dpl = newCPL
            segments[Segment.ss] = ss
        }
        gpr[4] = stackPointer
        handler.selector = (selector & 0xfffc) | UInt16(newCPL)
        handler.type |= 1
        segments[Segment.cs] = handler
        segments[Segment.ss].dpl = newCPL
        var cleared = RFlags.tf | RFlags.nt | RFlags.rf | RFlags.vm
        if (low >> 40) & 1 == 0 { cleared |= RFlags.if }
        flags.stored &= ~cleared
        rip = target
        modeChanged()
    }

    /// Delivers an exception raised by an instruction, turning a fault during delivery into #DF
    /// where the SDM says so (vol. 3, 6.15, table 6-5). Returns false on a triple fault.
    mutating func deliverException(_ fault: Fault) -> Bool {
        var current = fault
        while true {
            do {
                // INT3 and INTO are checked against the gate's DPL like INT n (SDM vol. 3, 6.12.1.1).
                let software = current.vector == Fault.breakpoint || current.vector == Fault.overflow
                try deliver(vector: current.vector, errorCode: current.hasErrorCode ? current.errorCode : nil,
                            source: software ? .software : .exception, returnRip: rip, isFault: current.isFault)
                return true
            } catch {
                if current.vector == Fault.doubleFault { return false }
                let firstClass = current.vector == Fault.pageFault ? 2 : (current.isContributory ? 1 : 0)
                let secondClass = error.vector == Fault.pageFault ? 2 : (error.isContributory ? 1 : 0)
                if (firstClass == 1 && secondClass == 1) || (firstClass == 2 && secondClass != 0) {
                    current = Fault(Fault.doubleFault, code: 0)
                } else {
                    current = error
                }
            }
        }
    }
}
