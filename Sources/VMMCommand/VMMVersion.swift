/// What `vmm --version` prints: the release and the CPU backends built into this binary.
enum VMMVersion {
    /// The package's version, raised with every release (semantic versioning; 0.x while the
    /// command line may still change).
    static let number = "0.17.0"

    static var description: String {
        "vmm \(number) (backends: \(BuiltInBackends.registry.backends.map { $0.name }.joined(separator: ", ")))"
    }
}
