import VMMKit

/// The state an application processor starts in after INIT and a start-up IPI: the power-up/INIT
/// register values (SDM vol. 3, 9.1.1, table 9-1) in real mode, with CS:IP = (vector << 8):0000 so
/// execution begins at physical address vector << 12 (SDM vol. 3, 8.4.4.1 and 9.4.4).
enum KVMStartupState {
    static func afterStartupIPI(vector: UInt8) -> BootState {
        var state = BootState()
        state.general.rip = 0
        state.general.rflags = 0x2
        let code = SegmentRegister(selector: UInt16(vector) << 8, base: UInt64(vector) << 12, limit: 0xffff,
                                   type: 0xb, db: false, granularity: false)
        let data = SegmentRegister(selector: 0, base: 0, limit: 0xffff, type: 0x3, db: false, granularity: false)
        state.system.cs = code
        for keyPath in [\SystemRegisters.ds, \.es, \.fs, \.gs, \.ss] { state.system[keyPath: keyPath] = data }
        state.system.tr = SegmentRegister(selector: 0, base: 0, limit: 0xffff, type: 0xb, db: false,
                                          granularity: false, codeOrData: false)
        state.system.ldt = SegmentRegister(selector: 0, base: 0, limit: 0xffff, type: 0x2, db: false,
                                           granularity: false, codeOrData: false)
        state.system.gdt = DescriptorTableRegister(base: 0, limit: 0xffff)
        state.system.idt = DescriptorTableRegister(base: 0, limit: 0xffff)
        state.system.cr0 = 0x6000_0010
        // Enabled, not the bootstrap processor (SDM vol. 3, 10.4.4).
        state.system.apicBase = 0xfee0_0800
        return state
    }
}
