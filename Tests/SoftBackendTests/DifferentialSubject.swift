/// A CPU under test that executes the same code and data pages as the oracle, one instruction at
/// a time.
protocol DifferentialSubject: AnyObject {
    /// Starts a case: the code page (`code`, then INT3 filler), the data page and the registers.
    /// `instructionEnds` are the offsets where the instructions end (a real CPU needs no hint).
    func load(code: [UInt8], instructionEnds: [Int], data: [UInt8], state: MachineState, mode: ExecutionMode) throws
    /// Executes the next instruction, all iterations of a repeated string instruction included.
    func step() throws -> StepResult
    /// The registers and data page now.
    func observe() throws -> (state: MachineState, data: [UInt8])
}
