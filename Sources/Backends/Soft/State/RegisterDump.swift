extension SoftVirtualCPU {
    /// A readable dump for triple faults: RIP, RFLAGS, GPRs, control registers, EFER, segments.
    func registerDump() -> String {
        let cpu = core.pointee
        func hex(_ value: UInt64) -> String {
            let digits = String(value, radix: 16)
            return String(repeating: "0", count: max(0, 16 - digits.count)) + digits
        }
        let names = ["RAX", "RCX", "RDX", "RBX", "RSP", "RBP", "RSI", "RDI",
                     "R8 ", "R9 ", "R10", "R11", "R12", "R13", "R14", "R15"]
        var lines = ["RIP=\(hex(cpu.rip)) RFLAGS=\(hex(cpu.flags.value)) CPL=\(cpu.cpl)"]
        for row in 0..<4 {
            lines.append((0..<4).map { "\(names[row * 4 + $0])=\(hex(cpu.gpr[row * 4 + $0]))" }.joined(separator: " "))
        }
        lines.append("CR0=\(hex(cpu.cr0)) CR2=\(hex(cpu.cr2)) CR3=\(hex(cpu.cr3)) CR4=\(hex(cpu.cr4)) EFER=\(hex(cpu.efer))")
        let segmentNames = ["ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR"]
        for (number, name) in segmentNames.enumerated() {
            let s = cpu.segments[number]
            lines.append("\(name)=\(String(s.selector, radix: 16)) base=\(hex(s.base)) limit=\(String(s.limit, radix: 16)) "
                + "type=\(s.type) dpl=\(s.dpl) \(s.long ? "L" : "")\(s.db ? "D" : "")\(s.present ? "" : " not-present")"
                + "\(s.unusable ? " unusable" : "")")
        }
        lines.append("GDT=\(hex(cpu.gdtr.base))/\(String(cpu.gdtr.limit, radix: 16)) "
            + "IDT=\(hex(cpu.idtr.base))/\(String(cpu.idtr.limit, radix: 16))")
        return lines.joined(separator: "\n")
    }
}
