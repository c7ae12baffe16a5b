#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Unimplemented opcodes raise #UD in the guest; each distinct opcode is reported once on stderr so a
/// missing instruction is visible without flooding the terminal.
enum UnimplementedOpcodeLog {
    private static let seen = Mutex<Set<UInt32>>([])

    static func report(bytes: UInt32, rip: UInt64) {
        let first = seen.withLock { $0.insert(bytes).inserted }
        guard first else { return }
        let text = "vmm: soft CPU: unimplemented opcode \(String(bytes, radix: 16)) at RIP 0x\(String(rip, radix: 16)); raising #UD\n"
        fputs(text, stderr)
    }
}
