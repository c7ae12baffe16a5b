/// What a debugger's protocol code (the gdb stub) needs of a machine, and nothing of how a backend
/// runs it. `MachineDebugTarget` is the implementation; tests put a fake in its place.
///
/// Everything but `stop`, `waitForStop`, `onChange` and `kill` is for a stopped machine: after
/// `stop` or a `waitForStop` that returned a stop, and before `resume`.
public protocol DebugTarget: AnyObject {
    var vcpuCount: Int { get }

    /// Stops every vCPU and returns the stop to report; nil once the machine's run ended.
    func stop() -> DebugStop?
    /// Lets every vCPU run, or only `stepping`, for one instruction, with `breakpoints` armed.
    func resume(stepping: Int?, breakpoints: DebugBreakpoints) throws
    /// After `resume`: nil while the machine runs; `.some(nil)` once its run ended.
    func waitForStop(blocking: Bool) -> DebugStop??
    /// Called from any thread whenever `waitForStop` may have something new.
    func onChange(_ action: (@Sendable () -> Void)?)

    func registers(of vcpu: Int) throws -> DebugRegisterFile
    func setRegisters(_ registers: DebugRegisterFile, of vcpu: Int) throws
    /// The guest-physical address of `linear` through vCPU `vcpu`'s current page tables.
    func translate(_ linear: UInt64, vcpu: Int) throws -> UInt64?
    /// Up to `count` bytes from guest-physical memory, stopping at the first byte outside RAM.
    func readPhysical(at address: UInt64, count: Int) -> [UInt8]
    /// Writes `bytes` to guest-physical RAM; false (nothing written) if any of it is not RAM.
    func writePhysical(_ bytes: [UInt8], at address: UInt64) -> Bool

    /// Whether the backend can watch `watchpoint` (it may not, for a length or alignment a debug
    /// register cannot take).
    func supports(_ watchpoint: Watchpoint) -> Bool

    /// Ends the machine's run (gdb's `kill`).
    func kill()
}

/// The registers a debugger sees of one vCPU.
public struct DebugRegisterFile: Equatable, Sendable {
    public var general: GeneralRegisters
    public var system: SystemRegisters
    /// Read-only for the debugger; nil if the backend could not provide it.
    public var floatingPoint: FloatingPointRegisters?

    public init(general: GeneralRegisters, system: SystemRegisters, floatingPoint: FloatingPointRegisters? = nil) {
        self.general = general
        self.system = system
        self.floatingPoint = floatingPoint
    }
}

extension DebugTarget {
    /// Up to `count` bytes at linear address `linear` as vCPU `vcpu` sees them, stopping at the first
    /// unmapped byte or one outside RAM.
    public func readLinear(at linear: UInt64, count: Int, vcpu: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var address = linear
        while bytes.count < count {
            guard let physical = try translate(address, vcpu: vcpu) else { break }
            // Up to the end of the page: the next one may map anywhere.
            let chunk = min(count - bytes.count, Int(0x1000 - (address & 0xfff)))
            let piece = readPhysical(at: physical, count: chunk)
            bytes += piece
            guard piece.count == chunk else { break }
            address &+= UInt64(chunk)
        }
        return bytes
    }

    /// Writes `bytes` at linear address `linear` as vCPU `vcpu` sees it; false if some of it is
    /// unmapped or not RAM (then nothing of that page on is written).
    public func writeLinear(_ bytes: [UInt8], at linear: UInt64, vcpu: Int) throws -> Bool {
        var offset = 0
        var address = linear
        while offset < bytes.count {
            guard let physical = try translate(address, vcpu: vcpu) else { return false }
            let chunk = min(bytes.count - offset, Int(0x1000 - (address & 0xfff)))
            guard writePhysical(Array(bytes[offset..<offset + chunk]), at: physical) else { return false }
            offset += chunk
            address &+= UInt64(chunk)
        }
        return true
    }
}
