import VMMKit

/// What a back-end serving a transport's queues in another process answers through, beside the
/// kicks (queue n's doorbell eventfd, handed over untaken): a call and an error eventfd per queue
/// (QEMU's docs/interop/vhost-user.rst, SET_VRING_CALL and SET_VRING_ERR), and the connection,
/// whose hang-up means the back-end is gone. All are watched by the device's own thread.
final class RemoteQueueEvents {
    enum Event {
        /// The back-end used buffers of the queue and wants the driver told.
        case call(Int)
        /// The back-end found the queue broken.
        case error(Int)
        /// The connection hung up (reported once; it is not watched after).
        case hangUp
    }

    let calls: [EventNotifier]
    let errors: [EventNotifier]
    /// Where each source sits in the thread's `Ready` set.
    private var callSources: [Int] = []
    private var errorSources: [Int] = []
    private var connectionSource = -1

    init(queueCount: Int) throws(EventNotifierError) {
        var calls: [EventNotifier] = []
        var errors: [EventNotifier] = []
        for _ in 0..<queueCount {
            calls.append(try EventNotifier())
            errors.append(try EventNotifier())
        }
        self.calls = calls
        self.errors = errors
    }

    /// Adds the eventfds and `connection` to `thread`, before it starts.
    func watch(on thread: DeviceEventThread, connection: Int32) {
        callSources = calls.map { thread.watch($0) }
        errorSources = errors.map { thread.watch($0) }
        connectionSource = thread.watch(hangUpOf: connection)
    }

    /// Calls `body` with each event in one wake-up of `thread` (on that thread).
    func forEach(in ready: DeviceEventThread.Ready, on thread: DeviceEventThread, _ body: (Event) -> Void) {
        for (queue, source) in callSources.enumerated() where ready.contains(source) { body(.call(queue)) }
        for (queue, source) in errorSources.enumerated() where ready.contains(source) { body(.error(queue)) }
        if ready.contains(connectionSource) {
            thread.forget(connectionSource)
            body(.hangUp)
        }
    }
}
