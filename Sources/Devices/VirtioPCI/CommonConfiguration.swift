import Virtio

/// The registers of struct virtio_pci_common_cfg (virtio 1.2, 4.1.4.3) and the device status
/// (2.1), as the driver reads and writes them. Plain state: the transport holds it under its lock
/// and acts on the effects a write reports.
struct CommonConfiguration {
    /// virtio 1.2, 4.1.5.1.2: "no vector".
    static let noVector: UInt16 = 0xFFFF

    /// Device status bits (2.1).
    enum Status {
        static let acknowledge: UInt8 = 1
        static let driver: UInt8 = 2
        static let driverOK: UInt8 = 4
        static let featuresOK: UInt8 = 8
        static let needsReset: UInt8 = 64
        static let failed: UInt8 = 128
    }

    struct Queue {
        let maximumSize: UInt16
        var size: UInt16
        var vector = CommonConfiguration.noVector
        var enabled = false
        var descriptorTable: UInt64 = 0
        var driverArea: UInt64 = 0
        var deviceArea: UInt64 = 0

        init(maximumSize: UInt16) {
            self.maximumSize = maximumSize
            size = maximumSize
        }
    }

    /// What a write asks the transport to do beyond storing the value.
    enum Effect: Equatable {
        case none
        case reset
        case enableQueue(Int)
        /// The driver just set DRIVER_OK (3.1.1, step 8): the device is live.
        case driverOK
    }

    let offeredFeatures: UInt64
    let vectorCount: Int
    var deviceFeatureSelect: UInt32 = 0
    var driverFeatureSelect: UInt32 = 0
    var driverFeatures: UInt64 = 0
    var configurationVector = CommonConfiguration.noVector
    var status: UInt8 = 0
    var queueSelect: UInt16 = 0
    var queues: [Queue]

    init(offeredFeatures: UInt64, queueSizes: [UInt16], vectorCount: Int) {
        self.offeredFeatures = offeredFeatures
        self.vectorCount = vectorCount
        queues = queueSizes.map { Queue(maximumSize: $0) }
    }

    /// Back to the state after reset (2.4), the queues' maximum sizes kept.
    mutating func reset() {
        self = CommonConfiguration(offeredFeatures: offeredFeatures, queueSizes: queues.map(\.maximumSize),
                                   vectorCount: vectorCount)
    }

    private var selected: Queue? { queues.indices.contains(Int(queueSelect)) ? queues[Int(queueSelect)] : nil }

    /// A register read; a read of a queue field with no such queue selected reads zero (4.1.4.3.1).
    func read(offset: UInt64, size: Int) -> UInt64 {
        let value: UInt64
        switch offset {
        case 0x00: value = UInt64(deviceFeatureSelect)
        case 0x04: value = deviceFeatureSelect < 2 ? offeredFeatures >> (32 * UInt64(deviceFeatureSelect)) & 0xFFFF_FFFF : 0
        case 0x08: value = UInt64(driverFeatureSelect)
        case 0x0C: value = driverFeatureSelect < 2 ? driverFeatures >> (32 * UInt64(driverFeatureSelect)) & 0xFFFF_FFFF : 0
        case 0x10: value = UInt64(configurationVector)
        case 0x12: value = UInt64(queues.count)
        case 0x14: value = UInt64(status)
        case 0x15: value = 0  // config_generation: the device configuration never changes
        case 0x16: value = UInt64(queueSelect)
        case 0x18: value = UInt64(selected?.size ?? 0)
        case 0x1A: value = UInt64(selected?.vector ?? Self.noVector)
        case 0x1C: value = selected?.enabled == true ? 1 : 0
        case 0x1E: value = UInt64(queueSelect)  // queue_notify_off: doorbell n for queue n
        case 0x20, 0x24: value = (selected?.descriptorTable ?? 0) >> (8 * (offset - 0x20))
        case 0x28, 0x2C: value = (selected?.driverArea ?? 0) >> (8 * (offset - 0x28))
        case 0x30, 0x34: value = (selected?.deviceArea ?? 0) >> (8 * (offset - 0x30))
        default: value = 0
        }
        return size >= 8 ? value : value & ((1 << UInt64(size * 8)) - 1)
    }

    /// A register write, and what the transport must do about it.
    mutating func write(offset: UInt64, size: Int, value: UInt64) -> Effect {
        let word = UInt32(truncatingIfNeeded: value)
        let index = Int(queueSelect)
        let hasQueue = queues.indices.contains(index)
        switch offset {
        case 0x00: deviceFeatureSelect = word
        case 0x08: driverFeatureSelect = word
        case 0x0C:
            // Features are settled once FEATURES_OK is set (3.1.1).
            guard status & Status.featuresOK == 0, driverFeatureSelect < 2 else { break }
            let shift = 32 * UInt64(driverFeatureSelect)
            driverFeatures = driverFeatures & ~(0xFFFF_FFFF << shift) | UInt64(word) << shift
        case 0x10: configurationVector = validVector(value)
        case 0x14: return writeStatus(UInt8(truncatingIfNeeded: value))
        case 0x16: queueSelect = UInt16(truncatingIfNeeded: value)
        case 0x18: if hasQueue, !queues[index].enabled { queues[index].size = UInt16(truncatingIfNeeded: value) }
        case 0x1A: if hasQueue { queues[index].vector = validVector(value) }
        case 0x1C:
            // Writing 0 is not how a queue is disabled (4.1.4.3.2): only a reset does that.
            if hasQueue, value & 1 == 1, !queues[index].enabled { return .enableQueue(index) }
        case 0x20, 0x24: if hasQueue { Self.set(&queues[index].descriptorTable, offset - 0x20, size, value) }
        case 0x28, 0x2C: if hasQueue { Self.set(&queues[index].driverArea, offset - 0x28, size, value) }
        case 0x30, 0x34: if hasQueue { Self.set(&queues[index].deviceArea, offset - 0x30, size, value) }
        default: break
        }
        return .none
    }

    /// A vector past the MSI-X table reads back as NO_VECTOR, which tells the driver it failed
    /// (4.1.5.1.2).
    private func validVector(_ value: UInt64) -> UInt16 {
        let vector = UInt16(truncatingIfNeeded: value)
        return Int(vector) < vectorCount ? vector : Self.noVector
    }

    /// Status: 0 resets; FEATURES_OK stays set only for an acceptable feature set (3.1.1: a subset
    /// of the offer, with VERSION_1); the device's own NEEDS_RESET bit survives driver writes;
    /// DRIVER_OK set over accepted features is reported.
    private mutating func writeStatus(_ value: UInt8) -> Effect {
        guard value != 0 else { return .reset }
        var accepted = value & ~Status.needsReset
        if accepted & Status.featuresOK != 0, status & Status.featuresOK == 0,
           driverFeatures & ~offeredFeatures != 0 || driverFeatures & VirtioFeatures.version1 == 0 {
            accepted &= ~Status.featuresOK
        }
        let becomesLive = accepted & Status.driverOK != 0 && status & Status.driverOK == 0
            && accepted & Status.featuresOK != 0
        status = accepted | status & Status.needsReset
        return becomesLive ? .driverOK : .none
    }

    /// Writes `size` bytes at byte `shift` of a 64-bit field (the halves may be written apart).
    private static func set(_ field: inout UInt64, _ shift: UInt64, _ size: Int, _ value: UInt64) {
        let mask: UInt64 = size >= 8 ? .max : (1 << UInt64(size * 8)) - 1
        field = field & ~(mask << (8 * shift)) | (value & mask) << (8 * shift)
    }
}
