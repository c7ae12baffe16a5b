/// A host byte stream a device receives (a UART's receiver): stdin, a pipe, a socket.
///
/// Flow-controlled, as QEMU's character backends are: the source offers bytes only as fast as the
/// device has room, and waits after a partial take until the device says it made room, so input
/// is never lost to overruns.
public protocol ByteSource: AnyObject, Sendable {
    /// Takes bytes and returns how many it accepted (0 when it has no room). Called from the
    /// source's own thread with none of the source's locks held.
    typealias Deliver = (UnsafeRawBufferPointer) -> Int

    /// Starts offering bytes to `deliver`.
    func start(delivering deliver: @escaping Deliver) throws

    /// The device made room: bytes held back may be offered again.
    func noteSpaceAvailable()

    /// Stops offering bytes and releases the host side; safe to call twice or before `start`.
    func stop()
}
