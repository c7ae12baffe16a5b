import VMMKit

/// One Soft vCPU: owns the `CPUCore` allocation and runs it on the vCPU thread, handling interrupts,
/// HLT, start-up IPIs and stop requests between blocks.
public final class SoftVirtualCPU: VirtualCPU {
    public let index: Int
    public let statistics = ExitStatistics()
    let machine: Machine
    let signals = VCPUSignals()
    let core: UnsafeMutablePointer<CPUCore>
    /// Instructions per call into the execution loop between stop-request checks.
    private static let slice = 1 << 20
    /// An interrupt was pending while IF=0 or a shadow blocked it: hardware would request an
    /// interrupt-window exit, counted when the window opens.
    private var windowRequested = false

    /// The VM's shared code map, kept alive here (the core holds it unowned).
    private let code: SharedCodeMap

    init(machine: Machine, index: Int, code: SharedCodeMap, translatesHotBlocks: Bool) {
        self.index = index
        self.machine = machine
        self.code = code
        code.join(signals)
        core = .allocate(capacity: 1)
        core.initialize(to: CPUCore(machine: machine, statistics: statistics, signals: signals, code: code,
                                    vcpuIndex: index))
        core.pointee.native.attach(core)
        if !translatesHotBlocks { core.pointee.native.enabled = false }
    }

    deinit {
        core.pointee.deallocate()
        core.deinitialize(count: 1)
        core.deallocate()
    }

    public func kick() { signals.kick() }

    // MARK: running

    public func run() throws -> VCPUStop {
        defer { signals.away.store(true, ordering: .sequentiallyConsistent) }
        if index > 0, let stop = waitForStartup() { return stop }
        resumeGuest()
        while true {
            let retiredBefore = core.pointee.instructionsRetired
            let translatedBefore = core.pointee.native.nativeInstructions
            let exit = core.pointee.run(budget: Self.slice)
            statistics.instructionsRetired.increment(by: core.pointee.instructionsRetired &- retiredBefore)
            statistics.instructionsTranslated.increment(by: core.pointee.native.nativeInstructions &- translatedBefore)
            switch exit {
            case .budgetExhausted:
                if machine.debugControl.isPauseRequested { parkForDebugger() }
                if machine.runControl.isStopRequested { return .machineStopped }
            case .attention:
                if let stop = service() { return stop }
            case .halted:
                if let stop = halt() { return stop }
            case .exception:
                break // only in step mode
            case .tripleFault:
                return .shutdown(registerDump: registerDump())
            case let .debugStop(reason):
                parkForDebugger(reason)
                if machine.runControl.isStopRequested { return .machineStopped }
            }
        }
    }

    /// Parks for the debugger (`DebugControl.park`) as a vCPU that runs no guest code, so another
    /// vCPU's exclusive section need not wait for it, then catches up with what changed meanwhile.
    private func parkForDebugger(_ reason: DebugStopReason? = nil) {
        signals.away.store(true, ordering: .sequentiallyConsistent)
        machine.debugControl.park(vcpu: index, reason: reason)
        signals.clear()
        resumeGuest()
    }

    /// Looks at the machine: stop requests, INIT, NMI, and maskable interrupts when IF allows them
    /// (SDM vol. 3, 6.8.1 and 6.9 for priorities).
    func service() -> VCPUStop? {
        signals.clear()
        core.pointee.checkInterrupts = false
        resumeGuest()
        if machine.debugControl.isPauseRequested { parkForDebugger() }
        if machine.runControl.isStopRequested { return .machineStopped }
        guard let source = machine.interruptSource else { return nil }
        let paravirtualEOIs = source.synchronizeAfterExit(vcpu: index)
        if paravirtualEOIs > 0 { statistics.paravirtualEOIs.increment(by: UInt64(paravirtualEOIs)) }
        if index > 0, let signal = source.takeStartupSignal(vcpu: index), signal == .initialize {
            return waitForStartup()
        }
        if !core.pointee.nmiBlocked && source.takeNonMaskableInterrupt(vcpu: index) {
            if let stop = deliverNonMaskableInterrupt() { return stop }
        }
        guard source.hasPendingInterrupt(vcpu: index) else { return nil }
        guard core.pointee.flags.stored & RFlags.if != 0 && !core.pointee.interruptShadow else {
            windowRequested = true
            return nil
        }
        if windowRequested {
            statistics.interruptWindow.increment()
            windowRequested = false
        }
        guard let vector = source.acknowledgeInterrupt(vcpu: index) else { return nil }
        statistics.interruptsInjected.increment()
        if !deliverEvent(vector: vector) { return .shutdown(registerDump: registerDump()) }
        return nil
    }

    /// NMIs are blocked until the handler's IRET (SDM vol. 3, 6.7.1).
    private func deliverNonMaskableInterrupt() -> VCPUStop? {
        core.pointee.nmiBlocked = true
        return deliverEvent(vector: Fault.nmi) ? nil : .shutdown(registerDump: registerDump())
    }

    /// An external event through the IDT; false on a triple fault.
    private func deliverEvent(vector: UInt8) -> Bool {
        do {
            try core.pointee.deliver(vector: vector, errorCode: nil, source: .external, returnRip: core.pointee.rip)
            return true
        } catch {
            return core.pointee.deliverException(error)
        }
    }

    /// HLT: sleep until a kick brings something deliverable (SDM vol. 2, HLT), by the rules every
    /// backend shares (`VCPUArbitration`).
    private func halt() -> VCPUStop? {
        statistics.halt.increment()
        if let stop = service() { return stop }
        guard core.pointee.halted else { return nil }
        let wake = machine.vcpuArbitration.waitInHalt(
            vcpu: index, interruptsEnabled: core.pointee.flags.stored & RFlags.if != 0,
            acceptsNMI: !core.pointee.nmiBlocked, source: machine.interruptSource, sleep: { sleepUntilKicked() })
        switch wake {
        case .interrupt:
            return service()
        case .nonMaskableInterrupt:
            resumeGuest()
            return deliverNonMaskableInterrupt()
        case .initialize:
            return waitForStartup()
        case .unhalted:
            core.pointee.halted = false
            resumeGuest()
            return nil
        case let .stop(stop):
            return stop
        }
    }

    /// Application processors wait for INIT-SIPI; SIPI starts them in real mode at vector * 4096
    /// (SDM vol. 3, 8.4.4). Returns why the vCPU is done, or nil once it started.
    private func waitForStartup() -> VCPUStop? {
        let wake = machine.vcpuArbitration.waitForStartup(
            vcpu: index, source: machine.interruptSource, sleep: { sleepUntilKicked() })
        switch wake {
        case let .start(vector):
            signals.clear()
            core.pointee.resetForStartup(vector: vector)
            resumeGuest()
            return nil
        case let .stop(stop):
            return stop
        }
    }

    /// Sleeps as a vCPU that runs no guest code, so another vCPU's exclusive section need not wait.
    /// The kick flag is cleared on waking: the wait re-examines the machine itself. A debugger's
    /// pause parks the vCPU here, asleep as it is.
    private func sleepUntilKicked() {
        signals.away.store(true, ordering: .sequentiallyConsistent)
        signals.waitForKick()
        if machine.debugControl.isPauseRequested { machine.debugControl.park(vcpu: index) }
        signals.clear()
    }

    /// Before guest instructions run again: wait out another vCPU's exclusive section, then catch up
    /// with what it and others changed in the code map.
    func resumeGuest() {
        code.exclusive.waitOut(signals)
        core.pointee.synchronizeCodeMap()
    }

    // MARK: register access

    public func generalRegisters() throws -> GeneralRegisters {
        let cpu = core.pointee
        var registers = GeneralRegisters()
        registers.rax = cpu.gpr[0]; registers.rcx = cpu.gpr[1]; registers.rdx = cpu.gpr[2]; registers.rbx = cpu.gpr[3]
        registers.rsp = cpu.gpr[4]; registers.rbp = cpu.gpr[5]; registers.rsi = cpu.gpr[6]; registers.rdi = cpu.gpr[7]
        registers.r8 = cpu.gpr[8]; registers.r9 = cpu.gpr[9]; registers.r10 = cpu.gpr[10]; registers.r11 = cpu.gpr[11]
        registers.r12 = cpu.gpr[12]; registers.r13 = cpu.gpr[13]; registers.r14 = cpu.gpr[14]; registers.r15 = cpu.gpr[15]
        registers.rip = cpu.rip
        registers.rflags = cpu.flags.value
        return registers
    }

    /// Loading registers also ends a HLT: the caller has given the vCPU a new context to run.
    public func setGeneralRegisters(_ registers: GeneralRegisters) throws {
        let values = [registers.rax, registers.rcx, registers.rdx, registers.rbx, registers.rsp, registers.rbp,
                      registers.rsi, registers.rdi, registers.r8, registers.r9, registers.r10, registers.r11,
                      registers.r12, registers.r13, registers.r14, registers.r15]
        for (number, value) in values.enumerated() { core.pointee.gpr[number] = value }
        core.pointee.rip = registers.rip
        core.pointee.flags.op = .none
        core.pointee.flags.stored = (registers.rflags & RFlags.writable) | RFlags.fixed
        core.pointee.modeChanged()
        core.pointee.checkInterrupts = true
        core.pointee.halted = false
    }

    public func systemRegisters() throws -> SystemRegisters {
        let cpu = core.pointee
        var registers = SystemRegisters()
        registers.es = cpu.segments[Segment.es].register
        registers.cs = cpu.segments[Segment.cs].register
        registers.ss = cpu.segments[Segment.ss].register
        registers.ds = cpu.segments[Segment.ds].register
        registers.fs = cpu.segments[Segment.fs].register
        registers.gs = cpu.segments[Segment.gs].register
        registers.ldt = cpu.segments[Segment.ldtr].register
        registers.tr = cpu.segments[Segment.tr].register
        registers.gdt = DescriptorTableRegister(base: cpu.gdtr.base, limit: UInt16(truncatingIfNeeded: cpu.gdtr.limit))
        registers.idt = DescriptorTableRegister(base: cpu.idtr.base, limit: UInt16(truncatingIfNeeded: cpu.idtr.limit))
        registers.cr0 = cpu.cr0
        registers.cr2 = cpu.cr2
        registers.cr3 = cpu.cr3
        registers.cr4 = cpu.cr4
        registers.cr8 = UInt64((machine.interruptSource?.taskPriority(vcpu: index) ?? 0) & 0xf)
        registers.efer = cpu.efer
        registers.apicBase = cpu.msrs.apicBase
        return registers
    }

    public func setSystemRegisters(_ registers: SystemRegisters) throws {
        let cpu = core
        let list = [registers.es, registers.cs, registers.ss, registers.ds, registers.fs, registers.gs,
                    registers.ldt, registers.tr]
        for (number, segment) in list.enumerated() { cpu.pointee.segments[number] = SegmentCache(segment) }
        cpu.pointee.gdtr = TableRegister(base: registers.gdt.base, limit: UInt32(registers.gdt.limit))
        cpu.pointee.idtr = TableRegister(base: registers.idt.base, limit: UInt32(registers.idt.limit))
        cpu.pointee.cr0 = registers.cr0 | ControlBits.cr0ET
        cpu.pointee.cr2 = registers.cr2
        cpu.pointee.cr4 = registers.cr4
        cpu.pointee.efer = registers.efer
        cpu.pointee.msrs.apicBase = registers.apicBase & ~UInt64(0x100)
        cpu.pointee.tlb.flushAll()
        cpu.pointee.writeCR3(registers.cr3)
        cpu.pointee.modeChanged()
    }

    public func floatingPointRegisters() throws -> FloatingPointRegisters {
        let cpu = core.pointee
        var registers = FloatingPointRegisters()
        for index in 0..<8 {
            registers.st[index] = Array(withUnsafeBytes(of: (cpu.x87Registers[index * 2], cpu.x87Registers[index * 2 + 1])) { $0.prefix(10) })
        }
        for index in 0..<16 {
            registers.xmm[index] = Array(withUnsafeBytes(of: (cpu.xmm[index * 2], cpu.xmm[index * 2 + 1])) { Array($0) })
        }
        registers.controlWord = cpu.x87.controlWord
        registers.statusWord = cpu.x87.statusWord
        registers.abridgedTag = cpu.x87.tagWord
        registers.lastOpcode = cpu.x87.lastOpcode
        registers.lastInstructionPointer = cpu.x87.lastInstructionPointer
        registers.lastCodeSelector = cpu.x87.lastCodeSelector
        registers.lastDataPointer = cpu.x87.lastDataPointer
        registers.lastDataSelector = cpu.x87.lastDataSelector
        registers.mxcsr = cpu.mxcsr
        return registers
    }

    public func debugRegisters() throws -> DebugRegisters { core.pointee.debug }

    public func setDebugRegisters(_ registers: DebugRegisters) throws {
        core.pointee.debug = registers
        core.pointee.debugRegistersChanged()
    }

    public func readMSR(_ index: UInt32) throws -> UInt64 {
        do {
            return try core.pointee.readOwnMSR(index)
        } catch {
            throw SoftBackendError.unsupportedMSR(index)
        }
    }

    public func writeMSR(_ index: UInt32, value: UInt64) throws {
        do {
            try core.pointee.writeOwnMSR(index, value)
        } catch {
            throw SoftBackendError.unsupportedMSR(index)
        }
    }

    /// Delivers the exception through the IDT now, so the next `run()` starts in its handler.
    public func injectException(vector: UInt8, errorCode: UInt32?) throws {
        guard vector < 32 else { throw SoftBackendError.unsupportedInjection(vector: vector) }
        let fault = errorCode.map { Fault(vector, code: $0) } ?? Fault(vector)
        if !core.pointee.deliverException(fault) { throw SoftBackendError.unsupportedInjection(vector: vector) }
    }
}
