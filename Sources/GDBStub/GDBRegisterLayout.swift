import VMMKit

/// Which target description gdb gets: the registers of a 64-bit x86 (also while the guest still
/// runs 32-bit boot code, as QEMU does for x86-64 machines) or of a 32-bit one.
public enum GDBArchitecture: Sendable {
    case i386, x86_64
}

/// Where a register's value lives in the vCPU's state.
enum GDBRegisterSource {
    case general(WritableKeyPath<GeneralRegisters, UInt64>)
    /// A segment register's selector: gdb may not change it, since the descriptor cache behind it
    /// would have to be loaded from the guest's tables as the CPU does (a write of the same value
    /// is accepted: gdb writes every register back with G).
    case selector(WritableKeyPath<SystemRegisters, SegmentRegister>)
    case segmentBase(WritableKeyPath<SystemRegisters, SegmentRegister>)
    case system(WritableKeyPath<SystemRegisters, UInt64>)
    /// x87 and SSE state: read-only (a write of the value it has is accepted, as for selectors),
    /// and unavailable to gdb when the backend could not read it.
    case st(Int)
    case xmm(Int)
    case floatingPoint(KeyPath<FloatingPointRegisters, UInt64>)
}

/// One register of the target description, in the order of the `g` packet.
struct GDBRegister {
    let name: String
    let bits: Int
    let type: String
    let group: String?
    let feature: GDBFeature
    let source: GDBRegisterSource

    var bytes: Int { bits / 8 }
}

/// The target-description features (gdb manual, "Standard Target Features", i386 features): gdb
/// requires core and SSE for an x86 description; segments gives fs_base/gs_base; the system
/// registers are vmm's own feature, which gdb shows under their names ($cr3, info registers system).
enum GDBFeature: String, CaseIterable {
    case core = "org.gnu.gdb.i386.core"
    case sse = "org.gnu.gdb.i386.sse"
    case segments = "org.gnu.gdb.i386.segments"
    case system = "org.vmm.x86.system"
}

/// The registers gdb sees, in gdb's own numbering order for each architecture.
struct GDBRegisterLayout {
    let architecture: GDBArchitecture
    let registers: [GDBRegister]

    init(_ architecture: GDBArchitecture) {
        self.architecture = architecture
        let wide = architecture == .x86_64
        let width = wide ? 64 : 32
        func general(_ name: String, _ path: WritableKeyPath<GeneralRegisters, UInt64>, type: String = wide ? "int64" : "int32") -> GDBRegister {
            GDBRegister(name: name, bits: width, type: type, group: nil, feature: .core, source: .general(path))
        }
        var list: [GDBRegister]
        if wide {
            list = [general("rax", \.rax), general("rbx", \.rbx), general("rcx", \.rcx), general("rdx", \.rdx),
                    general("rsi", \.rsi), general("rdi", \.rdi), general("rbp", \.rbp, type: "data_ptr"),
                    general("rsp", \.rsp, type: "data_ptr"),
                    general("r8", \.r8), general("r9", \.r9), general("r10", \.r10), general("r11", \.r11),
                    general("r12", \.r12), general("r13", \.r13), general("r14", \.r14), general("r15", \.r15),
                    general("rip", \.rip, type: "code_ptr")]
        } else {
            list = [general("eax", \.rax), general("ecx", \.rcx), general("edx", \.rdx), general("ebx", \.rbx),
                    general("esp", \.rsp, type: "data_ptr"), general("ebp", \.rbp, type: "data_ptr"),
                    general("esi", \.rsi), general("edi", \.rdi), general("eip", \.rip, type: "code_ptr")]
        }
        list.append(GDBRegister(name: "eflags", bits: 32, type: "i386_eflags", group: nil, feature: .core, source: .general(\.rflags)))
        let segments: [(String, WritableKeyPath<SystemRegisters, SegmentRegister>)] =
            [("cs", \.cs), ("ss", \.ss), ("ds", \.ds), ("es", \.es), ("fs", \.fs), ("gs", \.gs)]
        for (name, path) in segments {
            list.append(GDBRegister(name: name, bits: 32, type: "int32", group: nil, feature: .core, source: .selector(path)))
        }
        for index in 0..<8 {
            list.append(GDBRegister(name: "st\(index)", bits: 80, type: "i387_ext", group: nil, feature: .core, source: .st(index)))
        }
        let x87: [(String, KeyPath<FloatingPointRegisters, UInt64>)] =
            [("fctrl", \.gdbControl), ("fstat", \.gdbStatus), ("ftag", \.gdbTagWord), ("fiseg", \.gdbCodeSelector),
             ("fioff", \.gdbInstructionPointer), ("foseg", \.gdbDataSelector), ("fooff", \.gdbDataPointer), ("fop", \.gdbOpcode)]
        for (name, path) in x87 {
            list.append(GDBRegister(name: name, bits: 32, type: "int", group: "float", feature: .core, source: .floatingPoint(path)))
        }
        for index in 0..<(wide ? 16 : 8) {
            list.append(GDBRegister(name: "xmm\(index)", bits: 128, type: "vec128", group: nil, feature: .sse, source: .xmm(index)))
        }
        list.append(GDBRegister(name: "mxcsr", bits: 32, type: "i386_mxcsr", group: "vector", feature: .sse,
                                source: .floatingPoint(\.gdbMXCSR)))
        if wide {
            list.append(GDBRegister(name: "fs_base", bits: 64, type: "int", group: nil, feature: .segments, source: .segmentBase(\.fs)))
            list.append(GDBRegister(name: "gs_base", bits: 64, type: "int", group: nil, feature: .segments, source: .segmentBase(\.gs)))
        }
        let controls: [(String, WritableKeyPath<SystemRegisters, UInt64>)] =
            [("cr0", \.cr0), ("cr2", \.cr2), ("cr3", \.cr3), ("cr4", \.cr4), ("cr8", \.cr8)]
        for (name, path) in controls {
            list.append(GDBRegister(name: name, bits: width, type: wide ? "int64" : "int32", group: "system", feature: .system, source: .system(path)))
        }
        list.append(GDBRegister(name: "efer", bits: 64, type: "int64", group: "system", feature: .system, source: .system(\.efer)))
        registers = list
    }

    /// The register's value as the `g`/`p` packets carry it: little-endian hex, or `x`s when the
    /// backend does not provide it.
    func read(_ register: GDBRegister, from file: DebugRegisterFile) -> String {
        guard let bytes = bytes(of: register, in: file) else { return String(repeating: "x", count: register.bytes * 2) }
        return String(decoding: GDBHex.encode(bytes), as: UTF8.self)
    }

    private func bytes(of register: GDBRegister, in file: DebugRegisterFile) -> [UInt8]? {
        let value: UInt64
        switch register.source {
        case let .general(path): value = file.general[keyPath: path]
        case let .selector(path): value = UInt64(file.system[keyPath: path].selector)
        case let .segmentBase(path): value = file.system[keyPath: path].base
        case let .system(path): value = file.system[keyPath: path]
        case let .st(index): return file.floatingPoint?.st[index]
        case let .xmm(index): return file.floatingPoint?.xmm[index]
        case let .floatingPoint(path):
            guard let floatingPoint = file.floatingPoint else { return nil }
            value = floatingPoint[keyPath: path]
        }
        return GDBHex.littleEndian(value, bytes: register.bytes)
    }

    /// Stores `bytes` (the register's width, little-endian) into `file`; false if gdb may not write
    /// this register so (a changed selector). Unavailable registers take any value and keep none.
    func write(_ register: GDBRegister, _ bytes: [UInt8], into file: inout DebugRegisterFile) -> Bool {
        guard bytes.count == register.bytes else { return false }
        let value = GDBHex.littleEndianValue(bytes)
        switch register.source {
        case let .general(path):
            // A 32-bit register keeps nothing above it: the guest cannot see those bits in 32-bit code.
            file.general[keyPath: path] = value
        case let .selector(path):
            return UInt64(file.system[keyPath: path].selector) == value
        case let .segmentBase(path):
            file.system[keyPath: path].base = value
        case let .system(path):
            file.system[keyPath: path] = value
        case .st, .xmm, .floatingPoint:
            return self.bytes(of: register, in: file).map { $0 == bytes } ?? true
        }
        return true
    }

    /// The width in hex digits of the whole `g` packet.
    var packetLength: Int { registers.reduce(0) { $0 + $1.bytes * 2 } }
}
