/// What a translation took for granted about the CPU's mode, and what holds now.
///
/// 32-bit code: translated code forms addresses without limit or type checks, leaves out the bases
/// it saw as zero, and wraps linear addresses at 4 GiB outside long mode (SDM vol. 3, 3.4.4 and
/// 5.3). 64-bit code assumes nothing of the segments (ES, CS, SS and DS are flat there by the
/// architecture, FS and GS add their base at run time). Either kind, if it holds SSE instructions,
/// assumes they raise no #UD or #NM (CR0.EM and CR0.TS clear, CR4.OSFXSR set; SDM vol. 3, 13.1.3).
///
/// A translation records the bits it relied on; the execution loop runs it only while
/// `CPUCore.translationShape` has all of them. Every change of those registers goes through
/// `CPUCore.modeChanged()`, which recomputes the shape and takes the epoch of a context made under
/// this very shape (`BlockEpochs`), so chained blocks (which skip that check) are always ones
/// entered under the current shape.
struct TranslationAssumptions: OptionSet, Equatable {
    let rawValue: UInt16

    /// Offsets through `segment` need no limit or type check (`CPUCore.segmentNeedsLimitCheck`).
    static func unchecked(_ segment: Int) -> TranslationAssumptions { TranslationAssumptions(rawValue: 1 << UInt16(segment)) }
    /// `segment`'s base is zero.
    static func zeroBase(_ segment: Int) -> TranslationAssumptions { TranslationAssumptions(rawValue: 1 << UInt16(6 + segment)) }
    /// SS.B: ESP is the stack pointer (SDM vol. 3, 3.4.5.1).
    static let stack32 = TranslationAssumptions(rawValue: 1 << 12)
    /// Linear addresses wrap at 4 GiB (protected mode) or not (compatibility mode): which one an
    /// added base was translated for.
    static let wrapsAt4GiB = TranslationAssumptions(rawValue: 1 << 13)
    static let doesNotWrap = TranslationAssumptions(rawValue: 1 << 14)
    /// SSE instructions run (`CPUCore.checkSSE` passes).
    static let sseUsable = TranslationAssumptions(rawValue: 1 << 15)

    /// Whether code translated under `assumed` may run now.
    @inline(__always)
    func allows(_ assumed: TranslationAssumptions) -> Bool { assumed.rawValue & ~rawValue == 0 }
}

extension CPUCore {
    /// The shape of the mode as `modeChanged()` left it.
    func currentTranslationShape() -> TranslationAssumptions {
        var shape: TranslationAssumptions = linearMask == 0xffff_ffff ? .wrapsAt4GiB : .doesNotWrap
        if stackMask == 0xffff_ffff { shape.insert(.stack32) }
        for segment in Segment.es...Segment.gs {
            if !segmentNeedsLimitCheck[segment] { shape.insert(.unchecked(segment)) }
            if segmentBase[segment] == 0 { shape.insert(.zeroBase(segment)) }
        }
        if (try? checkSSE()) != nil { shape.insert(.sseUsable) }
        return shape
    }
}
