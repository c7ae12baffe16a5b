/// Every instruction form the differential tests know, by family.
enum InstructionCatalog {
    static let templates: [InstructionTemplate] = ArithmeticFamilies.templates + ShiftFamilies.templates
        + MultiplyFamilies.templates + BitFamilies.templates + MoveFamilies.templates + StringFamilies.templates
        + ControlFamilies.templates + SSEFamilies.templates + SSE4Families.templates
        + SSEFloatFamilies.templates

    static func templates(for mode: ExecutionMode) -> [InstructionTemplate] { templates.filter { $0.modes.contains(mode) } }

    /// The forms random sequences may string together: those not needing fixed register values.
    static func sequenceTemplates(for mode: ExecutionMode) -> [InstructionTemplate] {
        var probe = SeededGenerator(seed: 1)
        return templates(for: mode).filter { $0.make(&probe, mode).sequenceSafe }
    }
}
