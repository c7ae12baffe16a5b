#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Synchronization
import VMMKit

/// The host thread that reads a file descriptor (stdin) and hands the bytes to a UART.
///
/// Host input is flow-controlled, as QEMU's character backends are: bytes are offered only as
/// fast as the receive FIFO has room, and the reader waits for the guest to read before offering
/// more, so piped input is never lost to overruns. `stop()` wakes the thread through a pipe it
/// polls beside the input, so it never stays blocked in read(2).
final class HostInputReader: @unchecked Sendable {
    /// Takes bytes, returns how many it accepted (0 when the FIFO is full).
    typealias Deliver = (UnsafeRawBufferPointer) -> Int

    private let input: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let deliver: Deliver
    private let stopping = Atomic<Bool>(false)
    private let spaceAvailable = DispatchSemaphore(value: 0)
    private var thread: HostThread?

    init(reading input: Int32, deliver: @escaping Deliver) throws {
        var pipeEnds: [Int32] = [-1, -1]
        guard pipe(&pipeEnds) == 0 else { throw SerialError.cannotCreateWakePipe(errno: errno) }
        self.input = input
        wakeRead = pipeEnds[0]
        wakeWrite = pipeEnds[1]
        self.deliver = deliver
        thread = try HostThread(name: "serial input") { [self] in readUntilStopped() }
    }

    /// The guest made room in the receive FIFO.
    func noteSpaceAvailable() { spaceAvailable.signal() }

    /// Ends the thread and waits for it; safe to call more than once.
    func stop() {
        guard !stopping.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var byte: UInt8 = 0
        _ = Glibc.write(wakeWrite, &byte, 1)
        spaceAvailable.signal()
        thread?.join()
        thread = nil
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
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
