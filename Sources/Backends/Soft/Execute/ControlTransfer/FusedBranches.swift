/// Fused compare-and-branch entries: an ALU instruction and the Jcc after it, decoded as one entry whose
/// length spans both (`BlockDecoder.fuseWithBranch`). The ALU part runs as usual (its flags are
/// architectural and may be read later); the branch reads the Jcc entry that follows in the block.
extension CPUCore {
    /// The Jcc of a fused pair, after its ALU part ran; `nextRip` is already past the Jcc. Returns the
    /// block entries consumed. When the budget ends between the two (`entryLimit`: single-stepping,
    /// the end of a slice), the Jcc is left for later: execution stops after the ALU instruction alone.
    @inline(__always)
    mutating func fusedBranch(_ ins: UnsafePointer<DecodedInstruction>) -> Int {
        let branch = ins + 1
        if branch >= entryLimit {
            nextRip &-= UInt64(branch.pointee.length)
            return 1
        }
        if condition(branch.pointee.sub) {
            nextRip = (nextRip &+ branch.pointee.imm) & branch.pointee.mask
        }
        return 2
    }
}
