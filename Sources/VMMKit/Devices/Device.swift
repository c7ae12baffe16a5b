/// A device: pure register-level behaviour against VMMKit, knowing nothing about the backend.
///
/// Lifecycle: `attach` claims bus ranges, IRQ lines, MSRs and CPUID hooks on the machine before it
/// starts; `reset` returns to power-on state; `stop` releases host resources (threads, terminals).
public protocol Device: AnyObject {
    /// The instance name used in error messages and bus claims.
    var name: String { get }
    func attach(to machine: Machine) throws
    func reset()
    func stop()
}

extension Device {
    public func reset() {}
    public func stop() {}
}
