import VMMKit

/// Segment register numbers in the order the Sreg field of instructions encodes them
/// (SDM vol. 2, 3.1.1.3), followed by LDTR and TR.
enum Segment {
    static let es = 0, cs = 1, ss = 2, ds = 3, fs = 4, gs = 5, ldtr = 6, tr = 7
    static let count = 8
}

/// A segment register's visible selector and hidden descriptor cache (SDM vol. 3, 3.4.3).
struct SegmentCache {
    var selector: UInt16 = 0
    var base: UInt64 = 0
    /// Byte-granular limit.
    var limit: UInt32 = 0xffff
    /// Descriptor type field: for code/data bit 3 = code, bit 1 = readable/writable, bit 2 = conforming/expand-down.
    var type: UInt8 = 3
    var dpl: UInt8 = 0
    var present = true
    var db = false
    var long = false
    var granularity = false
    var codeOrData = true
    var available = false
    var unusable = false

    var isCode: Bool { codeOrData && type & 0x8 != 0 }
    var isExpandDown: Bool { codeOrData && type & 0xc == 0x4 }

    init() {}

    /// Real-mode and virtual-8086 loads: base = selector * 16, attributes unchanged (SDM vol. 3, 20.1.1).
    init(realModeSelector selector: UInt16, type: UInt8 = 3) {
        self.selector = selector
        base = UInt64(selector) << 4
        self.type = type
    }

    init(_ register: SegmentRegister) {
        selector = register.selector
        base = register.base
        limit = register.limit
        type = register.type
        dpl = register.dpl
        present = register.present
        db = register.db
        long = register.long
        granularity = register.granularity
        codeOrData = register.codeOrData
        available = register.available
        unusable = register.unusable
    }

    var register: SegmentRegister {
        var register = SegmentRegister(selector: selector, base: base, limit: limit, type: type, dpl: dpl, db: db,
                                       long: long, granularity: granularity, codeOrData: codeOrData)
        register.present = present
        register.available = available
        register.unusable = unusable
        return register
    }

    /// Decodes an 8-byte GDT/LDT descriptor (SDM vol. 3, 3.4.5); `high` supplies bits 32-63 of the base
    /// for 16-byte system descriptors in long mode.
    init(selector: UInt16, descriptor: UInt64, upperBase: UInt64 = 0) {
        self.selector = selector
        let low = descriptor & 0xffff_ffff, high = descriptor >> 32
        base = ((low >> 16) | ((high & 0xff) << 16) | (high & 0xff00_0000)) | (upperBase << 32)
        let rawLimit = UInt32((low & 0xffff) | (high & 0xf_0000))
        granularity = high & (1 << 23) != 0
        limit = granularity ? (rawLimit << 12) | 0xfff : rawLimit
        type = UInt8((high >> 8) & 0xf)
        codeOrData = high & (1 << 12) != 0
        dpl = UInt8((high >> 13) & 3)
        present = high & (1 << 15) != 0
        available = high & (1 << 20) != 0
        long = high & (1 << 21) != 0
        db = high & (1 << 22) != 0
        unusable = false
    }
}

/// GDTR or IDTR.
struct TableRegister {
    var base: UInt64 = 0
    var limit: UInt32 = 0xffff
}
