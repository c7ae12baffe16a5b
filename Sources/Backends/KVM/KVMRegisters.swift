import CKVM
import VMMKit

/// Conversions between KVM's register structures (api.rst: KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_DEBUGREGS) and VMMKit's.
extension GeneralRegisters {
    init(_ r: kvm_regs) {
        self.init()
        rax = r.rax; rbx = r.rbx; rcx = r.rcx; rdx = r.rdx
        rsi = r.rsi; rdi = r.rdi; rsp = r.rsp; rbp = r.rbp
        r8 = r.r8; r9 = r.r9; r10 = r.r10; r11 = r.r11
        r12 = r.r12; r13 = r.r13; r14 = r.r14; r15 = r.r15
        rip = r.rip
        rflags = r.rflags
    }

    var kvm: kvm_regs {
        kvm_regs(rax: rax, rbx: rbx, rcx: rcx, rdx: rdx, rsi: rsi, rdi: rdi, rsp: rsp, rbp: rbp,
                 r8: r8, r9: r9, r10: r10, r11: r11, r12: r12, r13: r13, r14: r14, r15: r15,
                 rip: rip, rflags: rflags)
    }
}

extension SegmentRegister {
    init(_ s: kvm_segment) {
        self.init(selector: s.selector, base: s.base, limit: s.limit, type: s.type, dpl: s.dpl,
                  db: s.db != 0, long: s.l != 0, granularity: s.g != 0, codeOrData: s.s != 0)
        present = s.present != 0
        available = s.avl != 0
        unusable = s.unusable != 0
    }

    var kvm: kvm_segment {
        kvm_segment(base: base, limit: limit, selector: selector, type: type, present: present ? 1 : 0,
                    dpl: dpl, db: db ? 1 : 0, s: codeOrData ? 1 : 0, l: long ? 1 : 0, g: granularity ? 1 : 0,
                    avl: available ? 1 : 0, unusable: unusable ? 1 : 0, padding: 0)
    }
}

extension DescriptorTableRegister {
    init(_ d: kvm_dtable) { self.init(base: d.base, limit: d.limit) }
    var kvm: kvm_dtable { kvm_dtable(base: base, limit: limit, padding: (0, 0, 0)) }
}

extension SystemRegisters {
    init(_ s: kvm_sregs) {
        self.init()
        cs = SegmentRegister(s.cs); ds = SegmentRegister(s.ds); es = SegmentRegister(s.es)
        fs = SegmentRegister(s.fs); gs = SegmentRegister(s.gs); ss = SegmentRegister(s.ss)
        tr = SegmentRegister(s.tr); ldt = SegmentRegister(s.ldt)
        gdt = DescriptorTableRegister(s.gdt); idt = DescriptorTableRegister(s.idt)
        cr0 = s.cr0; cr2 = s.cr2; cr3 = s.cr3; cr4 = s.cr4; cr8 = s.cr8
        efer = s.efer
        apicBase = s.apic_base
    }

    /// Writes these registers over `s`, keeping its pending-interrupt bitmap, which VMMKit does not model.
    func store(into s: inout kvm_sregs) {
        s.cs = cs.kvm; s.ds = ds.kvm; s.es = es.kvm
        s.fs = fs.kvm; s.gs = gs.kvm; s.ss = ss.kvm
        s.tr = tr.kvm; s.ldt = ldt.kvm
        s.gdt = gdt.kvm; s.idt = idt.kvm
        s.cr0 = cr0; s.cr2 = cr2; s.cr3 = cr3; s.cr4 = cr4; s.cr8 = cr8
        s.efer = efer
        s.apic_base = apicBase
    }
}

extension DebugRegisters {
    init(_ d: kvm_debugregs) {
        self.init()
        (dr0, dr1, dr2, dr3) = d.db
        dr6 = d.dr6
        dr7 = d.dr7
    }

    var kvm: kvm_debugregs {
        var d = kvm_debugregs()
        d.db = (dr0, dr1, dr2, dr3)
        d.dr6 = dr6
        d.dr7 = dr7
        return d
    }
}
