import VMMKit

/// The readable register dump printed when a vCPU shuts down (a triple fault, SDM vol. 3, 6.15
/// "Double Fault Exception"): what a guest developer needs to find the faulting code.
enum KVMRegisterDump {
    static func render(_ g: GeneralRegisters, _ s: SystemRegisters) -> String {
        var lines: [String] = []
        lines.append("RIP=\(hex(g.rip)) RFLAGS=\(hex(g.rflags))")
        lines.append("RAX=\(hex(g.rax)) RBX=\(hex(g.rbx)) RCX=\(hex(g.rcx)) RDX=\(hex(g.rdx))")
        lines.append("RSI=\(hex(g.rsi)) RDI=\(hex(g.rdi)) RBP=\(hex(g.rbp)) RSP=\(hex(g.rsp))")
        lines.append("R8 =\(hex(g.r8)) R9 =\(hex(g.r9)) R10=\(hex(g.r10)) R11=\(hex(g.r11))")
        lines.append("R12=\(hex(g.r12)) R13=\(hex(g.r13)) R14=\(hex(g.r14)) R15=\(hex(g.r15))")
        lines.append("CR0=\(hex(s.cr0)) CR2=\(hex(s.cr2)) CR3=\(hex(s.cr3)) CR4=\(hex(s.cr4))")
        lines.append("CR8=\(hex(s.cr8)) EFER=\(hex(s.efer)) APIC_BASE=\(hex(s.apicBase))")
        let segments: [(String, SegmentRegister)] = [
            ("CS", s.cs), ("DS", s.ds), ("ES", s.es), ("FS", s.fs), ("GS", s.gs), ("SS", s.ss),
            ("TR", s.tr), ("LDT", s.ldt),
        ]
        for (name, segment) in segments { lines.append(describe(name, segment)) }
        lines.append("GDT=\(hex(s.gdt.base)) limit \(hex16(s.gdt.limit))  IDT=\(hex(s.idt.base)) limit \(hex16(s.idt.limit))")
        return lines.joined(separator: "\n")
    }

    private static func describe(_ name: String, _ s: SegmentRegister) -> String {
        let padded = name.count < 3 ? name + String(repeating: " ", count: 3 - name.count) : name
        var flags = "type=\(String(s.type, radix: 16)) dpl=\(s.dpl)"
        if s.db { flags += " D" }
        if s.long { flags += " L" }
        if s.granularity { flags += " G" }
        if !s.codeOrData { flags += " system" }
        if !s.present { flags += " not-present" }
        if s.unusable { flags += " unusable" }
        return "\(padded)=\(hex16(s.selector)) base \(hex(s.base)) limit \(String(s.limit, radix: 16)) \(flags)"
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
    }

    private static func hex16(_ value: UInt16) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }
}
