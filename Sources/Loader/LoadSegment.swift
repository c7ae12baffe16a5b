import VMMKit

/// One piece of a kernel image: `fileSize` bytes from the file at `fileOffset`, then zeros up to
/// `memorySize` (the .bss), placed at guest-physical `address`.
struct LoadSegment: Equatable {
    let address: UInt64
    let fileOffset: UInt64
    let fileSize: UInt64
    let memorySize: UInt64

    /// One past the last byte; callers checked that it does not wrap.
    var end: UInt64 { address + memorySize }
}
