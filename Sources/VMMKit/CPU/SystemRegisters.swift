/// A segment register with its hidden descriptor cache (SDM vol. 3, 3.4.3).
public struct SegmentRegister: Equatable, Sendable {
    public var selector: UInt16 = 0
    public var base: UInt64 = 0
    /// Byte-granular limit (already scaled when G is set).
    public var limit: UInt32 = 0xffff
    /// Descriptor type field (bits 8-11 of the high dword).
    public var type: UInt8 = 0
    public var present = true
    public var dpl: UInt8 = 0
    /// D/B: default operation size 32-bit.
    public var db = false
    /// S: code or data (true) versus system segment (false).
    public var codeOrData = true
    /// L: 64-bit code segment.
    public var long = false
    public var granularity = false
    public var available = false
    /// An unusable (null-loaded) segment register.
    public var unusable = false

    public init() {}

    public init(selector: UInt16, base: UInt64, limit: UInt32, type: UInt8, dpl: UInt8 = 0,
                db: Bool, long: Bool = false, granularity: Bool, codeOrData: Bool = true) {
        self.selector = selector
        self.base = base
        self.limit = limit
        self.type = type
        self.dpl = dpl
        self.db = db
        self.long = long
        self.granularity = granularity
        self.codeOrData = codeOrData
    }
}

/// GDTR or IDTR.
public struct DescriptorTableRegister: Equatable, Sendable {
    public var base: UInt64 = 0
    public var limit: UInt16 = 0xffff
    public init(base: UInt64 = 0, limit: UInt16 = 0xffff) {
        self.base = base
        self.limit = limit
    }
}

/// Segment, descriptor-table and control registers, EFER and the APIC base.
public struct SystemRegisters: Equatable, Sendable {
    public var cs = SegmentRegister(), ds = SegmentRegister(), es = SegmentRegister()
    public var fs = SegmentRegister(), gs = SegmentRegister(), ss = SegmentRegister()
    public var tr = SegmentRegister(), ldt = SegmentRegister()
    public var gdt = DescriptorTableRegister(), idt = DescriptorTableRegister()
    public var cr0: UInt64 = 0x6000_0010, cr2: UInt64 = 0, cr3: UInt64 = 0, cr4: UInt64 = 0, cr8: UInt64 = 0
    public var efer: UInt64 = 0
    public var apicBase: UInt64 = 0xfee0_0900

    public init() {}
}

/// DR0-DR3, DR6, DR7.
public struct DebugRegisters: Equatable, Sendable {
    public var dr0: UInt64 = 0, dr1: UInt64 = 0, dr2: UInt64 = 0, dr3: UInt64 = 0
    public var dr6: UInt64 = 0xffff_0ff0, dr7: UInt64 = 0x400
    public init() {}
}

/// Architectural bits the loaders and backends name (SDM vol. 3, 2.5 and 2.2.1).
public enum ControlBits {
    public static let cr0PE: UInt64 = 1 << 0
    public static let cr0MP: UInt64 = 1 << 1
    public static let cr0ET: UInt64 = 1 << 4
    public static let cr0NE: UInt64 = 1 << 5
    public static let cr0WP: UInt64 = 1 << 16
    public static let cr0PG: UInt64 = 1 << 31
    public static let cr4PAE: UInt64 = 1 << 5
    public static let cr4PGE: UInt64 = 1 << 7
    public static let cr4OSFXSR: UInt64 = 1 << 9
    public static let cr4OSXMMEXCPT: UInt64 = 1 << 10
    public static let eferSCE: UInt64 = 1 << 0
    public static let eferLME: UInt64 = 1 << 8
    public static let eferLMA: UInt64 = 1 << 10
    public static let eferNXE: UInt64 = 1 << 11
}
