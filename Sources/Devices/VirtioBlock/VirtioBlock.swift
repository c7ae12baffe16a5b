#if canImport(Glibc)
import Glibc
#endif
import Virtio
import VirtioPCI
import VMMKit

/// The block device (virtio 1.2, 5.2) over a raw `DiskImage`: one request queue; reads, writes,
/// flushes and the ID string. A request is a 16-byte header (type, reserved, sector), the data,
/// and a status byte the device writes last (5.2.6). A read-only image offers VIRTIO_BLK_F_RO and
/// answers writes with VIRTIO_BLK_S_IOERR without touching the file.
public final class VirtioBlock: VirtioDevice {
    /// Feature bits (5.2.3).
    enum Feature {
        static let segmentMaximum: UInt64 = 1 << 2
        static let readOnly: UInt64 = 1 << 5
        static let flush: UInt64 = 1 << 9
    }

    /// Request types (5.2.6).
    enum RequestType: UInt32 {
        case read = 0, write = 1, flush = 4, getID = 8
    }

    /// Status values (5.2.6).
    enum Status: UInt8 {
        case ok = 0, ioError = 1, unsupported = 2
    }

    static let headerSize = 16
    /// VIRTIO_BLK_ID_BYTES.
    public static let serialLength = 20
    static let queueSize: UInt16 = 256

    public let deviceID: UInt16 = 2
    /// Mass storage, SCSI (the class QEMU's virtio-blk-pci shows).
    public let classCode: UInt32 = 0x01_00_00
    public let deviceFeatures: UInt64
    public let queueSizes: [UInt16] = [VirtioBlock.queueSize]
    public let image: DiskImage
    private let serial: [UInt8]
    private let configuration: [UInt8]
    /// One request's guest buffers for preadv/pwritev, allocated once (the device thread's only).
    private let vectors = UnsafeMutablePointer<iovec>.allocate(capacity: DescriptorChain.capacity)

    public init(image: DiskImage, serial: String = "") {
        self.image = image
        self.serial = Array(serial.utf8.prefix(Self.serialLength))
        deviceFeatures = Feature.flush | Feature.segmentMaximum | (image.readOnly ? Feature.readOnly : 0)
        // struct virtio_blk_config (5.2.4): capacity in sectors, size_max (none), seg_max: as
        // many data segments as a full queue holds beside the header and the status.
        let capacity = image.size / DiskImage.sectorSize
        let segmentMaximum = UInt32(Self.queueSize) - 2
        configuration = (0..<8).map { UInt8(truncatingIfNeeded: capacity >> (8 * $0)) } + [0, 0, 0, 0]
            + (0..<4).map { UInt8(truncatingIfNeeded: segmentMaximum >> (8 * $0)) }
            + [UInt8](repeating: 0, count: 0x3C - 16)
    }

    deinit { vectors.deallocate() }

    public func readConfiguration(offset: Int, size: Int) -> UInt64 {
        Self.field(of: configuration, offset: offset, size: size)
    }

    public func serve(_ chain: DescriptorChain, queue: Int) -> UInt32 {
        // Without a writable byte there is nowhere to put a status: nothing can be done.
        guard chain.writableLength >= 1 else { return 0 }
        var header = (type: UInt32(0), reserved: UInt32(0), sector: UInt64(0))
        let got = withUnsafeMutableBytes(of: &header) { chain.read(from: 0, into: $0) }
        let dataIn = chain.writableLength - 1
        var written = 0
        let status: Status
        if got < Self.headerSize {
            status = .ioError
        } else {
            switch RequestType(rawValue: UInt32(littleEndian: header.type)) {
            case .read:
                status = transfer(chain, sector: UInt64(littleEndian: header.sector), length: dataIn, toGuest: true)
                if status == .ok { written = dataIn }
            case .write:
                status = image.readOnly ? .ioError
                    : transfer(chain, sector: UInt64(littleEndian: header.sector),
                               length: chain.readableLength - Self.headerSize, toGuest: false)
            case .flush:
                status = image.readOnly || image.flush() ? .ok : .ioError
            case .getID:
                written = serial.withUnsafeBytes { chain.write($0, at: 0) }
                if written < min(dataIn, Self.serialLength) {
                    let zeros = [UInt8](repeating: 0, count: min(dataIn, Self.serialLength) - written)
                    written += zeros.withUnsafeBytes { chain.write($0, at: written) }
                }
                status = .ok
            case nil:
                status = .unsupported
            }
        }
        var byte = status.rawValue
        _ = withUnsafeBytes(of: &byte) { chain.write($0, at: dataIn) }
        // Overlapping buffers can make a chain's length exceed 4 GiB: clamp, never trap.
        return UInt32(clamping: written + 1)
    }

    /// Moves `length` bytes between the image at `sector` and the chain's data segments: the
    /// writable ones before the status byte for a read, the readable ones after the header for a
    /// write. The range must be whole sectors inside the image.
    private func transfer(_ chain: DescriptorChain, sector: UInt64, length: Int, toGuest: Bool) -> Status {
        let sectors = image.size / DiskImage.sectorSize
        guard UInt64(length) % DiskImage.sectorSize == 0, sector <= sectors,
              UInt64(length) / DiskImage.sectorSize <= sectors - sector else { return .ioError }
        var count = 0
        let gathered = chain.walk(writable: toGuest, from: toGuest ? 0 : Self.headerSize, limit: length) { host, length in
            vectors[count] = iovec(iov_base: host, iov_len: length)
            count += 1
            return true
        }
        guard gathered == length,
              image.transfer(vectors, count: count, at: sector * DiskImage.sectorSize, write: !toGuest) else {
            return .ioError
        }
        return .ok
    }
}

extension VirtioBlock {
    public static let deviceType = DeviceType(
        name: "virtio-blk",
        summary: "a virtio block device on PCI (Linux: /dev/vda) over a raw disk image",
        parameters: [
            "file=IMAGE     the raw image: a whole number of 512-byte sectors (required)",
            "readonly=on    refuse the guest's writes (default off)",
            "serial=ID      the ID the guest reads, up to 20 bytes",
        ]
    ) { arguments in
        guard let path = arguments.string("file") else { throw DiskImageError.noImage }
        let readOnly: Bool
        switch arguments.string("readonly", default: "off") {
        case "on": readOnly = true
        case "off": readOnly = false
        case let other: throw DeviceSpecificationError.badValue("virtio-blk", "readonly", other)
        }
        let serial = arguments.string("serial", default: "")
        guard serial.utf8.count <= serialLength else {
            throw DeviceSpecificationError.badValue("virtio-blk", "serial", serial)
        }
        return try VirtioPCITransport(name: "virtio-blk", device: VirtioBlock(image: DiskImage(path: path, readOnly: readOnly), serial: serial))
    }
}
