/// Turning guest code into cached blocks of decoded instructions.
extension CPUCore {
    /// The decoded block starting at CS:RIP, decoding it if needed. An instruction that crosses a page
    /// boundary is decoded on its own into `scratch` and not cached (its second page may change).
    @inline(__always)
    mutating func currentBlock(scratch: UnsafeMutablePointer<DecodedInstruction>) throws(Fault)
        -> (start: UnsafeMutablePointer<DecodedInstruction>, count: Int)
    {
        let linear = (segmentBase[Segment.cs] &+ rip) & linearMask
        let slot = CodeCache.recentSlot(linear)
        let recent = codeCache.recent[slot]
        if recent.linear == linear && recent.epoch == blockEpoch { return (recent.start, recent.count) }
        let block = try lookUpBlock(linear, scratch: scratch)
        if block.start != scratch {
            codeCache.recent[slot] = CodeCache.RecentBlock(linear: linear, epoch: blockEpoch, start: block.start,
                                                           count: block.count)
        }
        return block
    }

    /// The block for `linear` through the fetch TLB and the physical-address table, decoding on a miss.
    private mutating func lookUpBlock(_ linear: UInt64, scratch: UnsafeMutablePointer<DecodedInstruction>) throws(Fault)
        -> (start: UnsafeMutablePointer<DecodedInstruction>, count: Int)
    {
        guard let page = try fetchPage(linear) else { throw Fault.ud } // fetch from MMIO/unmapped: all ones
        let physicalAddress = page.physical | (linear & 0xfff)
        let key = CodeCache.key(physical: physicalAddress, codeSize: codeSize)
        if let block = codeCache.lookup(key) {
            return (codeCache.pool + Int(block.start), Int(block.count))
        }
        // The decoded pool and the translated code are emptied together, when either runs out: with
        // pages forgotten one at a time (`CodeCache.forget(page:)`), either may fill first.
        if !codeCache.hasRoomForBlock || !native.hasRoomForTranslation { flushCodeCache() }
        let start = codeCache.used
        var offset = Int(linear & 0xfff)
        var count = 0
        while count < CodeCache.maxBlockLength && offset < 0x1000 {
            let available = min(0x1000 - offset, 15)
            // Marked before the bytes are read, as far as the longest instruction could reach.
            markDecodedCode(page.physical | UInt64(offset), length: available)
            var decoder = Decoder(bytes: UnsafePointer(page.host.assumingMemoryBound(to: UInt8.self) + offset),
                                  available: available, mode: codeSize)
            let instruction: DecodedInstruction
            do {
                instruction = try decoder.decode()
            } catch .needMoreBytes {
                if count > 0 { break }
                scratch.pointee = try decodeAcrossPages(linear: linear, page: page.host)
                return (scratch, 1)
            } catch {
                if count > 0 { break }
                throw Fault.gp()
            }
            codeCache.pool[start + count] = instruction
            if instruction.op == .jcc && count > 0 { fuseWithBranch(codeCache.pool + start + count - 1) }
            count += 1
            offset += Int(instruction.length)
            if instruction.op.endsBlock { break }
        }
        codeCache.used += count
        codeCache.table[CodeCache.slot(key)] = CodeCache.Block(key: key, start: Int32(start), count: Int32(count))
        return (codeCache.pool + start, count)
    }

    /// Turns the ALU instruction before a Jcc into a fused compare-and-branch entry spanning both (QEMU
    /// and hardware macro-fusion do the same with CMP/TEST + Jcc): one dispatch instead of two, and the
    /// condition is read while the flags are fresh. The Jcc entry stays in place after it, for
    /// execution that must stop between the two (`CPUCore.fusedBranch`).
    private func fuseWithBranch(_ previous: UnsafeMutablePointer<DecodedInstruction>) {
        // RIP-relative operands are relative to the end of their own instruction, not of the pair.
        guard let fused = previous.pointee.op.fusedWithBranch, previous.pointee.base != DecodedInstruction.ripBase
        else { return }
        previous.pointee.op = fused.specialised(kind: previous.pointee.sub, size: previous.pointee.size,
                                                memory: previous.pointee.isMemory)
        previous.pointee.length &+= previous[1].length
    }

    /// Copies the tail of this page and the head of the next (which may raise #PF) and decodes.
    private mutating func decodeAcrossPages(linear: UInt64, page: UnsafeMutableRawPointer) throws(Fault)
        -> DecodedInstruction
    {
        let bytes = crossPageBytes
        let first = Int(0x1000 - (linear & 0xfff))
        for index in 0..<first { bytes[index] = page.load(fromByteOffset: Int(linear & 0xfff) + index, as: UInt8.self) }
        var decoder = Decoder(bytes: UnsafePointer(bytes), available: first, mode: codeSize)
        if let decoded = try? decoder.decode() { return decoded }
        guard let next = try fetchPage(((linear | 0xfff) &+ 1) & linearMask) else { throw Fault.ud }
        for index in first..<15 { bytes[index] = next.host.load(fromByteOffset: index - first, as: UInt8.self) }
        var full = Decoder(bytes: UnsafePointer(bytes), available: 15, mode: codeSize)
        do {
            return try full.decode()
        } catch {
            throw Fault.gp()
        }
    }
}

extension Op {
    /// Unconditional control transfers end a block: what follows is decoded where execution actually
    /// goes. Conditional branches do not (their handlers end the block when taken), so the fall-through
    /// path runs on without a lookup.
    var endsBlock: Bool {
        switch self {
        case .jmpRel, .callRel, .jmpIndirect, .callIndirect, .ret, .jmpFar, .callFar,
             .jmpFarIndirect, .callFarIndirect, .retFar, .iret, .int, .int3, .into, .int1, .syscall, .sysret,
             .sysenter, .sysexit, .hlt, .undefined, .ud2:
            return true
        default:
            return false
        }
    }
}
