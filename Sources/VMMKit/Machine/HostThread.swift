#if canImport(Glibc)
import Glibc
#endif

/// A joinable host thread (pthreads): one per vCPU, plus helpers such as timers and input readers.
public final class HostThread: @unchecked Sendable {
    private var thread = pthread_t()
    private let body: () -> Void

    /// `name` is for error messages.
    public init(name: String, _ body: @escaping () -> Void) throws(HostThreadError) {
        self.body = body
        let box = Unmanaged.passRetained(self)
        let created = pthread_create(&thread, nil, { context in
            let me = Unmanaged<HostThread>.fromOpaque(context!).takeRetainedValue()
            me.body()
            return nil
        }, box.toOpaque())
        guard created == 0 else {
            box.release()
            throw HostThreadError(name: name, errno: created)
        }
    }

    /// The pthread, for signalling it (the KVM backend kicks a vCPU out of KVM_RUN with a signal).
    public var pthread: pthread_t { thread }

    public func join() { pthread_join(thread, nil) }
}

public struct HostThreadError: VMMError {
    public let name: String
    public let errno: Int32
    public var description: String { "could not start host thread '\(name)' (errno \(errno))" }
}
