#if canImport(Glibc)
import Glibc
#endif

/// One vCPU's translated blocks, found by the decoded block they were made from: `entries` runs
/// parallel to `CodeCache.pool`, indexed by a block's first entry, and is emptied with it.
struct NativeCode {
    struct Entry {
        /// 0 until translated, `untranslatable`, or the address of the code's entry.
        var code: UInt
        /// Where other translated blocks continue into this one (`BlockChaining.swift`).
        var chainEntry: UInt
        /// The RIP the code was made for: branch targets and RIP-relative addresses are built in.
        var rip: UInt64
        /// At most `CodeCache.maxBlockLength`. For an `untranslatable` block: how many of its first
        /// entries the interpreter runs before looking the rest up as a block of its own (which may
        /// translate), so that one instruction the translator cannot do costs only itself.
        var passLength: Int16
        /// What the translation relies on (`TranslationAssumptions`).
        var assumptions: TranslationAssumptions
        /// Lookups so far, while `code` is 0.
        var heat: Int32
    }

    static let untranslatable: UInt = 1
    typealias Function = @convention(c) (UnsafeMutablePointer<UInt64>, UnsafeMutableRawPointer) -> UInt32

    /// Lookups of a block before it is translated: code that runs a few times is not worth it.
    static let defaultThreshold: Int32 = 8
    /// The longest chain the execution loop runs before looking blocks up again (see `CPUCore.run`).
    static let heatSlice = 1 << 12

    let entries: UnsafeMutablePointer<Entry>
    /// (RIP, chain entry, epoch) triples, `JumpCache.entries` of them, zeroed: epoch 0 never matches.
    let jumpCache: UnsafeMutableRawPointer
    var memory = ExecutableMemory()
    let frame = NativeFrame()
    var threshold: Int32
    var enabled: Bool
    private(set) var translatedBlocks = 0
    var nativeInstructions: UInt64 = 0
    /// Calls from the run loop into translated code (chained blocks continue without one).
    var calls: UInt64 = 0

    init() {
        let count = CodeCache.poolCapacity + CodeCache.maxBlockLength
        // calloc: zero pages the kernel backs only once an entry is touched.
        entries = calloc(count, MemoryLayout<Entry>.stride).unsafelyUnwrapped.bindMemory(to: Entry.self, capacity: count)
        jumpCache = calloc(JumpCache.entries, 1 << Int(JumpCache.entryShift)).unsafelyUnwrapped
        threshold = Self.defaultThreshold
        enabled = false
        enabled = canTranslate && Self.enabledByEnvironment
    }

    /// Room for one more block's code (a block of `CodeCache.maxBlockLength` instructions takes a
    /// few KiB at most): below that, translations would fail and their blocks run interpreted.
    var hasRoomForTranslation: Bool { !enabled || memory.free >= 64 << 10 }

    /// Whether translated code can run here at all: an x86-64 host with LAHF/SAHF in 64-bit mode,
    /// and executable memory.
    var canTranslate: Bool { memory.start != nil && Self.hostSupportsTranslation }

    func deallocate() {
        free(entries)
        free(jumpCache)
        memory.deallocate()
        frame.deallocate()
    }

    /// `VMM_SOFT_JIT=0` keeps every block in the interpreter, for a whole process.
    static var enabledByEnvironment: Bool {
        guard let value = getenv("VMM_SOFT_JIT") else { return true }
        return String(cString: value) != "0"
    }

    /// Translated code is x86-64 and saves flags with LAHF/SAHF, which early 64-bit CPUs lack in
    /// 64-bit mode (CPUID 8000_0001h ECX bit 0, "lahf_lm" in /proc/cpuinfo).
    static let hostSupportsTranslation: Bool = {
        #if arch(x86_64)
        guard BlockTranslator.tlbLayoutIsSupported, let file = fopen("/proc/cpuinfo", "r") else { return false }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 8192)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(cString: line)
            if text.hasPrefix("flags") { return text.split(separator: " ").contains("lahf_lm") }
        }
        return false
        #else
        return false
        #endif
    }()

    /// Tells translated code which `CPUCore` its TLB-refill helper works on: the one at `core`, whose
    /// address stays put for the vCPU's life.
    func attach(_ core: UnsafeMutablePointer<CPUCore>) {
        frame[NativeFrame.core] = UInt64(UInt(bitPattern: core))
        frame[NativeFrame.refill] = UInt64(UInt(bitPattern: unsafeBitCast(nativeTLBRefill, to: UnsafeRawPointer.self)))
        frame[NativeFrame.jumpCache] = UInt64(UInt(bitPattern: jumpCache))
        frame[NativeFrame.segmentBases] = UInt64(UInt(bitPattern: core.pointee.segmentBase))
        frame[NativeFrame.xmmRegisters] = UInt64(UInt(bitPattern: core.pointee.xmm))
    }

    /// Makes the block at `rip` a chaining target for the rest of `epoch`.
    func remember(_ entry: UnsafeMutablePointer<Entry>, rip: UInt64, epoch: UInt64) {
        let slot = jumpCache + JumpCache.slot(rip) << Int(JumpCache.entryShift)
        slot.storeBytes(of: rip, toByteOffset: JumpCache.ripOffset, as: UInt64.self)
        slot.storeBytes(of: UInt64(entry.pointee.chainEntry), toByteOffset: JumpCache.codeOffset, as: UInt64.self)
        slot.storeBytes(of: epoch, toByteOffset: JumpCache.epochOffset, as: UInt64.self)
    }

    mutating func record(_ translation: BlockTranslator.Translation, in entry: UnsafeMutablePointer<Entry>, rip: UInt64) {
        entry.pointee = Entry(code: UInt(bitPattern: translation.entry), chainEntry: UInt(bitPattern: translation.chainEntry),
                              rip: rip, passLength: Int16(translation.passLength), assumptions: translation.assumptions, heat: 0)
        translatedBlocks += 1
    }

    /// Forgets the translations of the first `count` pool entries and empties the code buffer.
    mutating func flush(count: Int) {
        memset(entries, 0, count * MemoryLayout<Entry>.stride)
        memory.used = 0
    }
}

extension CPUCore {
    /// The translation entry of a cached block.
    @inline(__always)
    func nativeEntry(_ block: UnsafeMutablePointer<DecodedInstruction>) -> UnsafeMutablePointer<NativeCode.Entry> {
        native.entries + Self.entries(from: codeCache.pool, to: block)
    }

    /// Translates the block at RIP, or marks it untranslatable (16-bit or virtual-8086 code, nothing
    /// to gain), for the mode as it is now (`TranslationAssumptions`).
    @inline(never)
    mutating func translate(_ block: UnsafeMutablePointer<DecodedInstruction>, count: Int,
                            entry: UnsafeMutablePointer<NativeCode.Entry>) {
        guard codeSize == 8 || (codeSize == 4 && protectedMode && !v86Mode) else {
            (entry.pointee.code, entry.pointee.passLength) = (NativeCode.untranslatable, Int16(count))
            return
        }
        let result = BlockTranslator.translate(block, count: count, rip: rip, shape: translationShape,
                                               legacyCode: codeSize == 4, into: &native.memory)
        guard let translation = result.translation else {
            (entry.pointee.code, entry.pointee.passLength) = (NativeCode.untranslatable, Int16(result.interpreted))
            return
        }
        native.record(translation, in: entry, rip: rip)
    }

    /// Runs a translated block, and the blocks it chains to, for at most `limit` instructions (whole
    /// passes of at most a block's length, `CodeCache.maxBlockLength`); returns the instructions
    /// retired and how it ended.
    @inline(never)
    mutating func runNative(_ entry: UnsafeMutablePointer<NativeCode.Entry>, limit: Int) -> (retired: Int, exit: NativeExit) {
        flags.materialize()
        let frame = native.frame
        frame[NativeFrame.tlbRead] = UInt64(UInt(bitPattern: tlbRead))
        frame[NativeFrame.tlbWrite] = UInt64(UInt(bitPattern: tlbWrite))
        frame[NativeFrame.kickFlag] = UInt64(UInt(bitPattern: signals.kickFlagAddress))
        frame[NativeFrame.flags] = flags.stored
        frame[NativeFrame.retired] = 0
        frame[NativeFrame.passesLeft] = UInt64(max(0, limit / CodeCache.maxBlockLength - 1))
        frame[NativeFrame.epoch] = blockEpoch
        native.remember(entry, rip: rip, epoch: blockEpoch)
        native.calls &+= 1
        let code = unsafeBitCast(entry.pointee.code, to: NativeCode.Function.self)
        // The code may call `nativeTLBRefill`, which updates this CPUCore's TLB through its pointer
        // while `self` is borrowed here; nothing below reads what it touches (the TLB, CR2), and the
        // callers see this method as mutating, so they reload whatever they use afterwards.
        let exit = code(gpr, frame.base)
        rip = frame[NativeFrame.exitRip]
        flags.setArithmetic(frame[NativeFrame.flags])
        let retired = Int(truncatingIfNeeded: frame[NativeFrame.retired])
        native.nativeInstructions &+= UInt64(retired)
        return (retired, exit == NativeExit.interpret.rawValue ? .interpret : .next)
    }
}
