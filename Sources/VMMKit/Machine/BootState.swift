/// The register state a vCPU starts the guest in, as a loader decides it (the standard entry
/// states are the loader's: `BootState+EntryStates.swift` in Sources/Loader). Both backends apply it
/// through `VirtualCPU.setGeneralRegisters`/`setSystemRegisters`.
public struct BootState: Equatable, Sendable {
    public var general = GeneralRegisters()
    public var system = SystemRegisters()

    public init(general: GeneralRegisters = GeneralRegisters(), system: SystemRegisters = SystemRegisters()) {
        self.general = general
        self.system = system
    }
}
