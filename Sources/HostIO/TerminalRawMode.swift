#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Puts the controlling terminal on stdin into raw-ish mode while a guest owns the console, and
/// puts it back however vmm ends (device stop, normal exit).
///
/// Input is byte-at-a-time with no echo, no line editing and no signal keys (ISIG off), so every
/// key reaches the guest as typed: Ctrl-C interrupts the guest's foreground process, Ctrl-Z and
/// Ctrl-\ reach the guest too, and vmm itself is left through the console escape (`ConsoleInput`).
/// Output processing (OPOST) stays on so a guest's "\n" starts a new line, as QEMU's stdio
/// backend does. termios(3) and POSIX "General Terminal Interface" describe the flags.
enum TerminalRawMode {
    private static let saved = Mutex<termios?>(nil)
    private static let exitHookInstalled = Atomic<Bool>(false)

    /// Switches stdin's terminal to raw mode; false when stdin is not a terminal.
    static func enter() -> Bool {
        guard isatty(STDIN_FILENO) == 1 else { return false }
        var original = termios()
        guard tcgetattr(STDIN_FILENO, &original) == 0 else { return false }
        var raw = original
        raw.c_lflag &= ~tcflag_t(ICANON | ECHO | ECHONL | IEXTEN | ISIG)
        raw.c_iflag &= ~tcflag_t(ICRNL | INLCR | IGNCR | IXON | ISTRIP | BRKINT | PARMRK)
        withUnsafeMutableBytes(of: &raw.c_cc) { cc in
            cc[Int(VMIN)] = 1
            cc[Int(VTIME)] = 0
        }
        saved.withLock { if $0 == nil { $0 = original } }
        if !exitHookInstalled.exchange(true, ordering: .relaxed) { atexit { TerminalRawMode.restore() } }
        return tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0
    }

    /// Restores the settings `enter()` found; harmless to call twice or without `enter()`.
    static func restore() {
        guard var original = saved.withLock({ state -> termios? in
            defer { state = nil }
            return state
        }) else { return }
        tcsetattr(STDIN_FILENO, TCSANOW, &original)
    }
}
