/// The host end of a network device's link: whole Ethernet frames each way, without the device
/// knowing what carries them (a tap interface, a passt socket, a test's fake). The board makes one
/// and hands it to the device.
///
/// The device's own thread uses it: it polls `descriptor` for readability while it has somewhere
/// to put a frame, then takes frames with `receive` until there are none.
public protocol FrameEndpoint: AnyObject, Sendable {
    /// Readable (in poll(2)'s sense) when `receive` may have a frame.
    var descriptor: Int32 { get }

    /// Takes the next waiting frame into `buffer`, never blocking.
    func receive(into buffer: UnsafeMutableRawBufferPointer) -> FrameReceipt

    /// Sends one frame; false when the host side dropped it.
    @discardableResult
    func send(_ frame: UnsafeRawBufferPointer) -> Bool

    /// Releases the host side; the endpoint is not used after this.
    func close()
}

public enum FrameReceipt: Equatable, Sendable {
    /// A frame of this many bytes is at the start of the buffer.
    case frame(Int)
    /// Nothing waiting now; the descriptor becomes readable when something arrives.
    case none
    /// The host side is gone (passt exited): nothing more will come.
    case closed
}
