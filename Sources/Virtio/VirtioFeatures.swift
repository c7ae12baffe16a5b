/// Device-independent feature bits (virtio 1.2, 6: Reserved Feature Bits) that the queue code and
/// the transport act on.
public enum VirtioFeatures {
    /// Descriptors may point at indirect descriptor tables (2.7.5.3).
    public static let indirectDescriptors: UInt64 = 1 << 28
    /// used_event / avail_event suppress notifications (2.7.7, 2.7.10).
    public static let eventIndex: UInt64 = 1 << 29
    /// Compliance with virtio 1.x: the modern interface, little-endian throughout.
    public static let version1: UInt64 = 1 << 32
}
