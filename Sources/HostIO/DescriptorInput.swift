#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import VMMKit

/// A byte source reading a host file descriptor (stdin, a pipe) on its own thread.
///
/// Bytes are offered only as fast as the device takes them (see `ByteSource`). Reading stdin from a
/// terminal puts the terminal in raw mode for the run. `stop()` wakes the thread through a pipe it
/// polls beside the input, so it never stays blocked in read(2).
public final class DescriptorInput: ByteSource, @unchecked Sendable {
    private let input: Int32
    private var wakeRead: Int32 = -1
    private var wakeWrite: Int32 = -1
    private var deliver: Deliver = { _ in 0 }
    private let started = Atomic<Bool>(false)
    private let stopping = Atomic<Bool>(false)
    private let spaceAvailable = DispatchSemaphore(value: 0)
    private var thread: HostThread?

    /// A source for `descriptor`, which stays open (the caller owns it).
    public init(reading descriptor: Int32) {
        input = descriptor
    }

    public func start(delivering deliver: @escaping Deliver) throws {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw HostIOError.cannotCreateWakePipe(errno: errno) }
        wakeRead = pipeEnds[0]
        wakeWrite = pipeEnds[1]
        self.deliver = deliver
        if input == STDIN_FILENO { _ = TerminalRawMode.enter() }
        thread = try HostThread(name: "host input") { [self] in readUntilStopped() }
    }

    public func noteSpaceAvailable() { spaceAvailable.signal() }

    /// Ends the thread and waits for it, and gives the terminal back; safe to call more than once.
    public func stop() {
        guard started.load(ordering: .acquiring),
              !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 0
        _ = Glibc.write(wakeWrite, &byte, 1)
        spaceAvailable.signal()
        thread?.join()
        thread = nil
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
        if input == STDIN_FILENO { TerminalRawMode.restore() }
    }

    private func readUntilStopped() {
        var buffer = [UInt8](repeating: 0, count: 256)
        while !stopping.load(ordering: .acquiring) {
            var descriptors = [pollfd(fd: input, events: Int16(POLLIN), revents: 0),
                               pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
            let ready = poll(&descriptors, 2, -1)
            if ready < 0, errno == EINTR { continue }
            guard ready > 0, descriptors[1].revents == 0 else { return }
            let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR || errno == EAGAIN { continue }
            // End of input (a closed pipe, /dev/null) or an error: the guest simply gets no more.
            guard count > 0 else { return }
            guard offer(buffer, count: count) else { return }
        }
    }

    /// Offers `count` bytes, waiting for FIFO room as needed; false when stopped meanwhile.
    private func offer(_ buffer: [UInt8], count: Int) -> Bool {
        var offset = 0
        while offset < count {
            offset += buffer.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[offset..<count])) }
            guard offset < count else { break }
            spaceAvailable.wait()
            if stopping.load(ordering: .acquiring) { return false }
        }
        return true
    }
}
