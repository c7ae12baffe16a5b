import SoftBackend
import VMMKit
import KernelLoading

/// The Soft backend's CPU as a differential subject: a standalone vCPU on a 64 MiB machine with
/// the boot GDT and identity page tables, in long mode or flat 32-bit protected mode at CPL 0. The
/// instructions under test are all unprivileged, so CPL 0 and the oracle's CPL 3 agree on them.
final class SoftSubject: DifferentialSubject {
    private let machine: Machine
    private let backend = SoftBackend()
    private(set) var cpu: SoftVirtualCPU?
    private var mode = ExecutionMode.long64
    private var comparesX87 = false

    init() throws {
        machine = try Machine(memorySize: 64 << 20, vcpuCount: 1)
        try BootGDT.write(into: machine.memory)
        try IdentityPageTables.write(into: machine.memory)
    }

    func load(code: [UInt8], instructionEnds _: [Int], data: [UInt8], state: MachineState, mode: ExecutionMode) throws {
        self.mode = mode
        let filler = [UInt8](repeating: 0xcc, count: DifferentialLayout.pageSize - code.count)
        try machine.memory.write(code + filler, at: DifferentialLayout.codeAddress)
        try machine.memory.write(data, at: DifferentialLayout.dataAddress)
        // A fresh vCPU per case: nothing decoded from the previous case's code page survives.
        let cpu = try backend.makeStandaloneVCPU(machine: machine)
        var boot = mode == .long64
            ? BootState.longMode(entry: DifferentialLayout.codeAddress)
            : BootState.flatProtectedMode(entry: UInt32(DifferentialLayout.codeAddress), eax: 0, ebx: 0)
        // SSE needs CR4.OSFXSR (SDM vol. 3, 13.1.3).
        boot.system.cr4 |= ControlBits.cr4OSFXSR | ControlBits.cr4OSXMMEXCPT
        try cpu.setSystemRegisters(boot.system)
        self.cpu = cpu
        try overwrite(state: state, data: data)
    }

    func step() throws -> StepResult {
        guard let cpu else { throw DifferentialError.subject("no case loaded") }
        let start = try cpu.generalRegisters().rip
        // A REP string instruction may retire one iteration per step; it is done when RIP moves.
        for _ in 0..<100_000 {
            switch try cpu.step(instructions: 1) {
            case .completed:
                if try cpu.generalRegisters().rip != start { return .completed }
            case .halted:
                throw DifferentialError.subject("halted at \(hex(start))")
            case let .exception(vector, errorCode):
                return .exception(vector: vector, errorCode: errorCode)
            case let .debuggerStop(reason):
                throw DifferentialError.subject("a debugger stop (\(reason)) with no debugger armed, at \(hex(start))")
            }
        }
        throw DifferentialError.subject("the instruction at \(hex(start)) did not finish in 100000 steps")
    }

    func observe() throws -> (state: MachineState, data: [UInt8]) {
        guard let cpu else { throw DifferentialError.subject("no case loaded") }
        let registers = try cpu.generalRegisters()
        var state = MachineState()
        state.gpr = [registers.rax, registers.rcx, registers.rdx, registers.rbx, registers.rsp, registers.rbp,
                     registers.rsi, registers.rdi, registers.r8, registers.r9, registers.r10, registers.r11,
                     registers.r12, registers.r13, registers.r14, registers.r15]
        state.rip = registers.rip
        state.rflags = registers.rflags
        for index in 0..<16 {
            let value = cpu.xmm(index)
            state.xmm[2 * index] = value.low
            state.xmm[2 * index + 1] = value.high
        }
        state.mxcsr = cpu.mxcsr
        if comparesX87 { state.x87 = cpu.x87Image() }
        let data = try machine.memory.readBytes(at: DifferentialLayout.dataAddress, count: DifferentialLayout.pageSize)
        return (state, data)
    }

    func overwrite(state: MachineState, data: [UInt8]) throws {
        guard let cpu else { throw DifferentialError.subject("no case loaded") }
        var registers = GeneralRegisters()
        registers.rax = state.gpr[0]; registers.rcx = state.gpr[1]; registers.rdx = state.gpr[2]
        registers.rbx = state.gpr[3]; registers.rsp = state.gpr[4]; registers.rbp = state.gpr[5]
        registers.rsi = state.gpr[6]; registers.rdi = state.gpr[7]; registers.r8 = state.gpr[8]
        registers.r9 = state.gpr[9]; registers.r10 = state.gpr[10]; registers.r11 = state.gpr[11]
        registers.r12 = state.gpr[12]; registers.r13 = state.gpr[13]; registers.r14 = state.gpr[14]
        registers.r15 = state.gpr[15]
        if mode == .protected32 {
            // 32-bit code sees only the low halves; keep the subject's view architectural.
            for keyPath in [\GeneralRegisters.rax, \.rcx, \.rdx, \.rbx, \.rsp, \.rbp, \.rsi, \.rdi] {
                registers[keyPath: keyPath] &= 0xffff_ffff
            }
        }
        registers.rip = state.rip
        registers.rflags = (state.rflags & Flag.compared) | 0x2
        try cpu.setGeneralRegisters(registers)
        for index in 0..<16 { cpu.setXMM(index, low: state.xmm[2 * index], high: state.xmm[2 * index + 1]) }
        cpu.mxcsr = state.mxcsr
        comparesX87 = !state.x87.isEmpty
        if comparesX87 { cpu.setX87Image(state.x87) }
        try machine.memory.write(data, at: DifferentialLayout.dataAddress)
    }
}
