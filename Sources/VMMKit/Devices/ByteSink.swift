/// Where a device's outgoing byte stream goes (a UART's transmitter, a console): a terminal, a
/// file, memory. The device knows only this; what is behind it is the board's choice.
public protocol ByteSink: AnyObject, Sendable {
    /// One byte the device sent. Called from vCPU threads, possibly under the device's lock, so it
    /// must not call back into the device.
    func write(_ byte: UInt8)

    /// The device is done with the stream: flush it and release what it holds.
    func close()
}
