/// What a finished child process left behind.
public struct ProcessResult: Sendable {
    public let standardOutput: String
    public let standardError: String
    /// The exit status, or 128 + signal number when a signal ended it (as a shell reports it).
    public let status: Int32
    /// The child outlived its timeout and was killed.
    public let timedOut: Bool

    public init(standardOutput: String, standardError: String, status: Int32, timedOut: Bool) {
        self.standardOutput = standardOutput
        self.standardError = standardError
        self.status = status
        self.timedOut = timedOut
    }
}
