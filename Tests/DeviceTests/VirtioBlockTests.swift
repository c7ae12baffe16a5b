import Foundation
import PCBoard
import Virtio
import VirtioBlock
import VirtioPCI
import VMMKit
import XCTest

/// virtio-blk (virtio 1.2, 5.2) over a real file: reads, writes, flushes, the ID, requests past
/// the end, read-only images, and the images refused at start.
final class VirtioBlockTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("vmm-blk-\(getpid())-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    /// An image of `sectors` sectors, sector n filled with byte n.
    private func image(sectors: Int = 16) throws -> String {
        let path = directory.appendingPathComponent("disk.img").path
        let bytes = (0..<sectors).flatMap { [UInt8](repeating: UInt8($0), count: 512) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    private func driver(path: String, readOnly: Bool = false, serial: String = "") throws -> VirtioTestDriver {
        let block = VirtioBlock(image: try DiskImage(path: path, readOnly: readOnly), serial: serial)
        let driver = try VirtioTestDriver(VirtioPCITransport(name: "virtio-blk", device: block))
        try driver.start(features: VirtioFeatures.version1 | VirtioFeatures.eventIndex | VirtioFeatures.indirectDescriptors)
        return driver
    }

    static let header = VirtioTestDriver.buffers
    static let data = VirtioTestDriver.buffers + 0x1000
    static let status = VirtioTestDriver.buffers + 0x3000

    /// Submits header (type, sector), `length` data bytes (device-writable for reads) and the status
    /// byte; returns the used length and the status.
    private func request(_ driver: VirtioTestDriver, type: UInt32, sector: UInt64, length: UInt32,
                         dataWritable: Bool) throws -> (used: UInt32?, status: UInt8) {
        let memory = driver.machine.memory
        try memory.write(type, at: Self.header)
        try memory.write(UInt32(0), at: Self.header + 4)
        try memory.write(sector, at: Self.header + 8)
        try memory.write(UInt8(0xFF), at: Self.status)
        try driver.descriptor(0, address: Self.header, length: 16, flags: 1, next: 1)
        if length > 0 {
            try driver.descriptor(1, address: Self.data, length: length, flags: 1 | (dataWritable ? 2 : 0), next: 2)
            try driver.descriptor(2, address: Self.status, length: 1, flags: 2)
        } else {
            try driver.descriptor(1, address: Self.status, length: 1, flags: 2)
        }
        let used = try driver.submit(0)
        return (used, try memory.read(UInt8.self, at: Self.status))
    }

    func testReadWriteFlushAndID() throws {
        let path = try image()
        let driver = try driver(path: path, serial: "vmm-disk-7")
        XCTAssertEqual(driver.offeredFeatures & (1 << 9 | 1 << 5), 1 << 9, "FLUSH, not RO")
        XCTAssertEqual(driver.machine.mmio.read(driver.bar0 + 0x2000, size: 8, vcpu: 0), 16, "capacity in sectors")

        let read = try request(driver, type: 0, sector: 3, length: 1024, dataWritable: true)
        XCTAssertEqual(read.status, 0)
        XCTAssertEqual(read.used, 1025, "data and status")
        XCTAssertEqual(try driver.machine.memory.readBytes(at: Self.data, count: 1024),
                       [UInt8](repeating: 3, count: 512) + [UInt8](repeating: 4, count: 512))

        try driver.machine.memory.write([UInt8](repeating: 0xAB, count: 512), at: Self.data)
        let write = try request(driver, type: 1, sector: 5, length: 512, dataWritable: false)
        XCTAssertEqual(write.status, 0)
        XCTAssertEqual(write.used, 1, "only the status is written into guest memory")
        XCTAssertEqual(try request(driver, type: 4, sector: 0, length: 0, dataWritable: false).status, 0, "flush")
        let file = try Data(contentsOf: URL(fileURLWithPath: path))
        XCTAssertEqual(Array(file[5 * 512..<6 * 512]), [UInt8](repeating: 0xAB, count: 512))
        XCTAssertEqual(Array(file[6 * 512..<6 * 512 + 4]), [6, 6, 6, 6], "the next sector untouched")

        let id = try request(driver, type: 8, sector: 0, length: 20, dataWritable: true)
        XCTAssertEqual(id.status, 0)
        XCTAssertEqual(String(decoding: try driver.machine.memory.readBytes(at: Self.data, count: 10), as: UTF8.self), "vmm-disk-7")
        XCTAssertEqual(try driver.machine.memory.readBytes(at: Self.data + 10, count: 10), [UInt8](repeating: 0, count: 10))
    }

    func testRequestsOutsideTheImageOrOddFail() throws {
        let driver = try driver(path: try image())
        XCTAssertEqual(try request(driver, type: 0, sector: 15, length: 1024, dataWritable: true).status, 1, "past the end")
        XCTAssertEqual(try request(driver, type: 0, sector: UInt64.max, length: 512, dataWritable: true).status, 1)
        XCTAssertEqual(try request(driver, type: 0, sector: 0, length: 100, dataWritable: true).status, 1, "not whole sectors")
        XCTAssertEqual(try request(driver, type: 1, sector: 16, length: 512, dataWritable: false).status, 1)
        XCTAssertEqual(try request(driver, type: 77, sector: 0, length: 0, dataWritable: false).status, 2, "unsupported")
        XCTAssertEqual(try request(driver, type: 0, sector: 1, length: 512, dataWritable: true).status, 0, "still serving")
    }

    func testReadOnlyImageRefusesWritesAndStaysIntact() throws {
        let path = try image()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let driver = try driver(path: path, readOnly: true)
        XCTAssertEqual(driver.offeredFeatures & (1 << 5), 1 << 5, "VIRTIO_BLK_F_RO")
        try driver.machine.memory.write([UInt8](repeating: 0xAB, count: 512), at: Self.data)
        XCTAssertEqual(try request(driver, type: 1, sector: 0, length: 512, dataWritable: false).status, 1, "VIRTIO_BLK_S_IOERR")
        XCTAssertEqual(try request(driver, type: 0, sector: 2, length: 512, dataWritable: true).status, 0, "reads work")
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: path)), before)
    }

    func testImagesRefusedAtStart() throws {
        let missing = directory.appendingPathComponent("missing.img").path
        XCTAssertThrowsError(try DiskImage(path: missing, readOnly: false)) {
            XCTAssertEqual($0 as? DiskImageError, .cannotOpen(missing, "No such file or directory"))
        }
        XCTAssertThrowsError(try DiskImage(path: directory.path, readOnly: true)) {
            XCTAssertEqual($0 as? DiskImageError, .directory(directory.path))
        }
        XCTAssertThrowsError(try DiskImage(path: "/dev/zero", readOnly: true)) {
            XCTAssertEqual($0 as? DiskImageError, .notAFile("/dev/zero"))
        }
        let odd = directory.appendingPathComponent("odd.img").path
        try Data(count: 1000).write(to: URL(fileURLWithPath: odd))
        XCTAssertThrowsError(try DiskImage(path: odd, readOnly: false)) {
            XCTAssertEqual($0 as? DiskImageError, .notWholeSectors(odd, 1000))
        }
    }
}
