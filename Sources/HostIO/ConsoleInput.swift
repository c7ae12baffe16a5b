#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import VMMKit

/// The console's input as a user at a terminal drives it: every byte goes to the guest, except an
/// escape character (Ctrl-A by default, as in QEMU's `-serial mon:stdio`) followed by a command key.
///
///     Ctrl-A x       quit vmm (status 0)
///     Ctrl-A h       list these keys
///     Ctrl-A s       print the exit statistics so far
///     Ctrl-A b       send a break (Linux: then a SysRq key within 5 seconds)
///     Ctrl-A Ctrl-A  send one Ctrl-A
///
/// Other keys after the escape are dropped. It wraps the source that reads the terminal and keeps
/// that source's flow control: a byte is only counted as taken once the guest took it.
public final class ConsoleInput: ByteSource, @unchecked Sendable {
    /// What the escape commands do; the board connects them to the machine and the UART.
    public struct Commands: Sendable {
        public var quit: @Sendable () -> Void
        public var sendBreak: @Sendable () -> Void
        public var statistics: @Sendable () -> String
        /// Where help and statistics are printed: the terminal, in raw mode, so lines end in CR LF.
        public var print: @Sendable (String) -> Void

        public init(quit: @escaping @Sendable () -> Void, sendBreak: @escaping @Sendable () -> Void,
                    statistics: @escaping @Sendable () -> String,
                    print: @escaping @Sendable (String) -> Void = ConsoleInput.printOnTerminal) {
            self.quit = quit
            self.sendBreak = sendBreak
            self.statistics = statistics
            self.print = print
        }
    }

    public static let defaultEscape: UInt8 = 0x01

    private let source: any ByteSource
    private let escape: UInt8
    private let commands: Mutex<Commands>
    /// Touched only on the source's thread.
    private var escaped = false

    public init(wrapping source: any ByteSource, escape: UInt8 = defaultEscape, commands: Commands) {
        self.source = source
        self.escape = escape
        self.commands = Mutex(commands)
    }

    /// Replaces the commands (the command line adds its statistics once the machine exists).
    public func update(_ change: (inout Commands) -> Void) { commands.withLock { change(&$0) } }

    public func start(delivering deliver: @escaping Deliver) throws {
        try source.start { [self] bytes in filter(bytes, into: deliver) }
    }

    public func noteSpaceAvailable() { source.noteSpaceAvailable() }

    public func stop() { source.stop() }

    /// Hands the plain bytes on and runs the escape commands; returns how many input bytes were
    /// consumed, which stops short only where the guest had no room.
    private func filter(_ bytes: UnsafeRawBufferPointer, into deliver: Deliver) -> Int {
        var consumed = 0
        while consumed < bytes.count {
            if escaped {
                let key = bytes[consumed]
                if key == escape {
                    let taken = withUnsafeBytes(of: key) { deliver($0) }
                    guard taken == 1 else { return consumed }
                } else {
                    run(key)
                }
                escaped = false
                consumed += 1
                continue
            }
            let rest = UnsafeRawBufferPointer(rebasing: bytes[consumed...])
            let plain = rest.firstIndex(of: escape) ?? rest.count
            if plain > 0 {
                let taken = deliver(UnsafeRawBufferPointer(rebasing: rest[0..<plain]))
                consumed += taken
                guard taken == plain else { return consumed }
            }
            if plain < rest.count {
                escaped = true
                consumed += 1
            }
        }
        return consumed
    }

    private func run(_ key: UInt8) {
        let commands = commands.withLock { $0 }
        switch key {
        case UInt8(ascii: "x"): commands.quit()
        case UInt8(ascii: "h"): commands.print(help)
        case UInt8(ascii: "s"): commands.print(commands.statistics())
        case UInt8(ascii: "b"): commands.sendBreak()
        default: break
        }
    }

    private var help: String {
        let name = Self.keyName(escape)
        return ["\(name) x    quit vmm", "\(name) h    show these keys", "\(name) s    print exit statistics so far",
                "\(name) b    send a break", "\(name) \(name)  send \(name)"].joined(separator: "\n")
    }

    /// The escape only applies to a user at a terminal: piped input goes to the guest byte for byte.
    public static var standardInputIsTerminal: Bool { isatty(STDIN_FILENO) == 1 }

    /// Text for the user at the terminal, on stderr, on lines of its own: the terminal is in raw
    /// mode, where a line feed alone would not return the cursor, so lines end in CR LF.
    @Sendable public static func printOnTerminal(_ text: String) {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        var bytes = Array(("\r\n" + lines.joined(separator: "\r\n") + "\r\n").utf8)
        bytes.withUnsafeMutableBytes { _ = write(STDERR_FILENO, $0.baseAddress, $0.count) }
    }

    /// `--escape`'s value: `ctrl-X` or `^X` for a control key, a single other character, or `none`
    /// (nil: no escape, every byte goes to the guest).
    public static func escape(parsing text: String) throws(HostIOError) -> UInt8? {
        if text == "none" { return nil }
        let lowered = text.lowercased()
        for prefix in ["ctrl-", "c-", "^"] where lowered.hasPrefix(prefix) && lowered.count == prefix.count + 1 {
            guard let letter = lowered.unicodeScalars.last, (0x61...0x7a).contains(letter.value) || "[\\]^_".unicodeScalars.contains(letter)
            else { throw .badEscape(text) }
            return UInt8(letter.value >= 0x61 ? letter.value - 0x60 : letter.value - 0x40)
        }
        guard text.utf8.count == 1, let byte = text.utf8.first, byte < 0x7f else { throw .badEscape(text) }
        return byte
    }

    /// "Ctrl-A" for 0x01, the character itself otherwise.
    public static func keyName(_ byte: UInt8) -> String {
        byte < 0x20 ? "Ctrl-" + String(UnicodeScalar(byte + 0x40)) : String(UnicodeScalar(byte))
    }
}
