/// A machine as a debugger sees it, whatever its backend: stop and resume through the machine's
/// `DebugControl`, registers through the `VirtualCPU`s, memory through the vCPUs' page tables
/// (`GuestLinearMemory`), breakpoints and single step through the VM's `GuestDebugging`.
public final class MachineDebugTarget: DebugTarget {
    private let machine: Machine

    public init(machine: Machine) { self.machine = machine }

    public var vcpuCount: Int { machine.vcpuCount }

    public func stop() -> DebugStop? {
        let stop = machine.debugControl.stopAll()
        if stop != nil { machine.debugging?.disarmDebugging() }
        return stop
    }

    public func resume(stepping: Int?, breakpoints: DebugBreakpoints) throws {
        machine.debugBreakpoints = breakpoints
        if let debugging = machine.debugging {
            try debugging.armDebugging(breakpoints, stepping: stepping)
        } else if stepping != nil || !breakpoints.isEmpty {
            throw DebugTargetError.unsupported
        }
        machine.debugControl.resume(stepping: stepping)
    }

    public func waitForStop(blocking: Bool) -> DebugStop?? {
        let outcome = machine.debugControl.waitForStop(blocking: blocking)
        if case .some(.some) = outcome { machine.debugging?.disarmDebugging() }
        return outcome
    }

    public func onChange(_ action: (@Sendable () -> Void)?) { machine.debugControl.onChange(action) }

    private func vcpu(_ index: Int) throws -> any VirtualCPU {
        let vcpus = machine.vcpus
        guard vcpus.indices.contains(index) else { throw DebugTargetError.noSuchVCPU(index) }
        return vcpus[index]
    }

    public func registers(of index: Int) throws -> DebugRegisterFile {
        let vcpu = try vcpu(index)
        return DebugRegisterFile(general: try vcpu.generalRegisters(), system: try vcpu.systemRegisters(),
                                 floatingPoint: try? vcpu.floatingPointRegisters())
    }

    public func setRegisters(_ registers: DebugRegisterFile, of index: Int) throws {
        let vcpu = try vcpu(index)
        let current = try self.registers(of: index)
        // System registers first: a backend recomputes its mode from them, then takes RIP and RFLAGS.
        if registers.system != current.system { try vcpu.setSystemRegisters(registers.system) }
        if registers.general != current.general { try vcpu.setGeneralRegisters(registers.general) }
    }

    public func translate(_ linear: UInt64, vcpu index: Int) throws -> UInt64? {
        GuestLinearMemory(memory: machine.memory, registers: try vcpu(index).systemRegisters()).physicalAddress(of: linear)
    }

    public func readPhysical(at address: UInt64, count: Int) -> [UInt8] {
        if let all = try? machine.memory.readBytes(at: address, count: count) { return all }
        var bytes: [UInt8] = []
        for offset in 0..<UInt64(max(count, 0)) {
            guard let byte = try? machine.memory.read(UInt8.self, at: address &+ offset) else { break }
            bytes.append(byte)
        }
        return bytes
    }

    public func writePhysical(_ bytes: [UInt8], at address: UInt64) -> Bool {
        guard (try? machine.memory.write(bytes, at: address)) != nil else { return false }
        machine.debugging?.debuggerWroteMemory(physical: address, length: bytes.count)
        return true
    }

    public func supports(_ watchpoint: Watchpoint) -> Bool { machine.debugging?.supports(watchpoint) ?? false }

    public func kill() { machine.runControl.requestStop(.quit("killed from the debugger")) }
}

public enum DebugTargetError: VMMError, Equatable {
    case noSuchVCPU(Int)
    case unsupported

    public var description: String {
        switch self {
        case let .noSuchVCPU(index): return "no vCPU \(index)"
        case .unsupported: return "this backend has no debugger support"
        }
    }
}
