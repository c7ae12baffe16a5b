import PCI
import Synchronization
import Virtio
import VMMKit

/// A virtio device on PCI, modern interface only (virtio 1.2, 4.1: "Virtio Over PCI Bus";
/// non-transitional: device ID 0x1040 + type, revision 1), signalling with MSI-X (one vector per
/// queue and one for configuration changes; no INTx pin). The driver programs the common
/// configuration from a vCPU; each queue's notification register is a VMMKit `Doorbell`, whose
/// write wakes the device's own thread without a userspace exit on KVM (an ioeventfd) or a bus
/// lock on the Soft CPU. The thread takes the chains off the enabled queues, has the device serve
/// them, and sends the vectors of the queues that need an interrupt once it has let go of the
/// transport's lock.
///
/// A broken ring (2.1.1) sets DEVICE_NEEDS_RESET, stops that device's processing until the driver
/// resets it, and signals the configuration vector; a malformed chain completes with nothing
/// written.
///
/// A `RemoteVirtioDevice`'s queues are served by another process: on DRIVER_OK the transport hands
/// them over with queue n's doorbell eventfd as its kick (left untaken) and a call and an error
/// eventfd of its own (`RemoteQueueEvents`), watched by the device's thread: a call raises the
/// queue's vector, and an error, or the back-end's connection hanging up, makes the device need a
/// reset.
public final class VirtioPCITransport: Device, PCIFunction, @unchecked Sendable {
    static let vendor: UInt16 = 0x1AF4
    /// Modern-only devices are 0x1040 + the virtio device ID (4.1.2.1).
    static let modernDeviceBase: UInt16 = 0x1040
    /// Non-transitional devices SHOULD have a subsystem ID of 0x40 or more (4.1.2.1).
    static let subsystem: UInt16 = 0x40
    static let transportFeatures = VirtioFeatures.version1 | VirtioFeatures.indirectDescriptors | VirtioFeatures.eventIndex

    private struct State {
        var registers: CommonConfiguration
        var queues: [SplitVirtqueue?]
        /// ISR status (4.1.4.5): bit 0 a queue interrupt, bit 1 a configuration change.
        var interruptStatus: UInt8 = 0
    }

    public let name: String
    public let configuration: PCIConfiguration
    public let device: any VirtioDevice
    public let msix: MSIXVectors
    private let state: Mutex<State>
    /// Where the PCI configuration access capability is.
    private let accessWindow: Int
    private let thread: DeviceEventThread
    /// Queue n's notification register (virtio 1.2, 4.1.4.4), at `notifyOffset` + n * 4 of BAR 0
    /// wherever the BAR is; declared on the machine's MMIO bus at attach.
    public private(set) var doorbells: [Doorbell] = []
    /// The device when another process serves its queues, and the eventfds it answers through.
    private let remote: (any RemoteVirtioDevice)?
    private let remoteEvents: RemoteQueueEvents?
    private var memory: GuestMemory?
    /// Vectors to signal after a batch, filled and drained by the device thread only.
    private var vectorsToSignal: [Int] = []

    public init(name: String, device: any VirtioDevice) throws {
        self.name = name
        self.device = device
        let queueCount = device.queueSizes.count
        msix = MSIXVectors(count: queueCount + 1, bar: VirtioPCILayout.msixBAR)
        var space = PCIConfigurationSpace(
            vendor: Self.vendor, device: Self.modernDeviceBase + device.deviceID, revision: 1,
            classCode: device.classCode, subsystemVendor: Self.vendor, subsystem: Self.subsystem)
        space.setBAR(VirtioPCILayout.structuresBAR, PCIBAR(size: VirtioPCILayout.structuresBARSize))
        space.setBAR(VirtioPCILayout.msixBAR, PCIBAR(size: msix.barSize))
        msix.addCapability(to: &space)
        accessWindow = VirtioPCILayout.addCapabilities(to: &space)
        configuration = PCIConfiguration(space)
        remote = device as? any RemoteVirtioDevice
        remoteEvents = remote == nil ? nil : try RemoteQueueEvents(queueCount: queueCount)
        // A remote device's offer is the back-end's, the transport's own bits included.
        let offered = remote == nil ? device.deviceFeatures | Self.transportFeatures : device.deviceFeatures
        let registers = CommonConfiguration(offeredFeatures: offered,
                                            queueSizes: device.queueSizes, vectorCount: queueCount + 1)
        state = Mutex(State(registers: registers, queues: Array(repeating: nil, count: queueCount)))
        thread = try DeviceEventThread(name: name)
        vectorsToSignal.reserveCapacity(queueCount + 1)
    }

    /// Declares the queues' doorbells, plugs into the board's PCI host bridge (which places BAR 0
    /// and so the doorbells) and starts the device thread. A remote device's back-end maps guest
    /// RAM itself, so RAM becomes shared memory first.
    public func attach(to machine: Machine) throws {
        if remote != nil { try machine.memory.shareRAM() }
        memory = machine.memory
        msix.connect(machine.interruptRouter)
        // The driver writes the queue's 16-bit index (4.1.5.2); any other write reaches writeBAR.
        doorbells = try device.queueSizes.indices.map { queue in
            try machine.mmio.doorbells.declare(name: "\(name) queue \(queue)", width: 2,
                                               coalescing: device.takesDoorbell(ofQueue: queue))
        }
        for (queue, doorbell) in doorbells.enumerated() where device.takesDoorbell(ofQueue: queue) { thread.watch(doorbell) }
        device.watchSources(on: thread)
        if let remote, let remoteEvents { remoteEvents.watch(on: thread, connection: remote.connectionDescriptor) }
        try PCIHostBridge.attached(to: machine).plug(self)
        try thread.start { [unowned self] ready in
            device.woke(ready)
            if let remote, let remoteEvents {
                // The back-end serves the queues; the transport only relays what it says.
                remoteEvents.forEach(in: ready, on: thread) { event in
                    switch event {
                    case let .call(queue): interrupt(queue: queue)
                    case .error: backendFailed()
                    case .hangUp:
                        remote.connectionLost()
                        backendFailed()
                    }
                }
            } else {
                processQueues()
            }
        }
    }

    /// The machine's reset: as the driver's reset, and every MSI-X vector masked again. The BARs
    /// and the rest of configuration space stay as the OS left them; the OS that boots next
    /// programs them again (Linux turns MSI-X off before it probes a function).
    public func reset() {
        state.withLock { resetDevice(&$0) }
        msix.reset()
    }

    public func stop() {
        thread.stop()
        device.stop()
    }

    // MARK: PCIFunction

    /// The doorbells follow BAR 0.
    public func decodingChanged() {
        let base = configuration.decodedBase(bar: VirtioPCILayout.structuresBAR)
        for (queue, doorbell) in doorbells.enumerated() {
            doorbell.move(to: base.map { $0 + VirtioPCILayout.notifyOffset + UInt64(queue) * UInt64(VirtioPCILayout.notifyOffsetMultiplier) })
        }
    }

    public func configurationWritten(offset: Int, size: Int) {
        msix.configurationWritten(configuration, offset: offset, size: size)
        let data = accessWindow + VirtioPCILayout.AccessWindow.data
        if offset < data + 4, offset + size > data, let access = windowAccess() {
            let value = configuration.read(offset: data, size: access.length)
            writeBAR(access.bar, offset: access.offset, size: access.length, value: UInt64(value))
        }
    }

    /// A read of the access window's data performs the read it describes (4.1.4.9.1).
    public func readConfiguration(offset: Int, size: Int) -> UInt32 {
        let data = accessWindow + VirtioPCILayout.AccessWindow.data
        guard offset >= data, offset + size <= data + 4, let access = windowAccess() else {
            return configuration.read(offset: offset, size: size)
        }
        let value = UInt32(truncatingIfNeeded: readBAR(access.bar, offset: access.offset, size: access.length))
        return value >> (8 * UInt32(offset - data)) & (size >= 4 ? .max : (1 << (8 * UInt32(size))) - 1)
    }

    /// The access the window's fields describe: BAR 0 or 1, a length of 1, 2 or 4, aligned to it
    /// (4.1.4.9.1 leaves anything else undefined; such an access does nothing).
    private func windowAccess() -> (bar: Int, offset: UInt64, length: Int)? {
        let bar = Int(configuration.read(offset: accessWindow + VirtioPCILayout.AccessWindow.bar, size: 1))
        let offset = UInt64(configuration.read(offset: accessWindow + VirtioPCILayout.AccessWindow.offset, size: 4))
        let length = Int(configuration.read(offset: accessWindow + VirtioPCILayout.AccessWindow.length, size: 4))
        guard bar <= VirtioPCILayout.msixBAR, [1, 2, 4].contains(length), offset % UInt64(length) == 0 else { return nil }
        return (bar, offset, length)
    }

    public func readBAR(_ index: Int, offset: UInt64, size: Int) -> UInt64 {
        if index == VirtioPCILayout.msixBAR { return msix.read(offset: offset, size: size) }
        switch offset {
        case VirtioPCILayout.commonOffset..<VirtioPCILayout.commonOffset + VirtioPCILayout.commonLength:
            return state.withLock { $0.registers.read(offset: offset - VirtioPCILayout.commonOffset, size: size) }
        case VirtioPCILayout.isrOffset:
            // Reading the ISR status clears it (4.1.4.5.1).
            return state.withLock { state in
                defer { state.interruptStatus = 0 }
                return UInt64(state.interruptStatus)
            }
        case VirtioPCILayout.deviceOffset..<VirtioPCILayout.deviceOffset + VirtioPCILayout.deviceLength:
            return device.readConfiguration(offset: Int(offset - VirtioPCILayout.deviceOffset), size: size)
        default:
            return 0
        }
    }

    public func writeBAR(_ index: Int, offset: UInt64, size: Int, value: UInt64) {
        if index == VirtioPCILayout.msixBAR { return msix.write(offset: offset, size: size, value: value) }
        switch offset {
        case VirtioPCILayout.notifyOffset..<VirtioPCILayout.notifyOffset + VirtioPCILayout.notifyLength:
            // A notification the doorbell did not catch (another width, the configuration access
            // window): rung by hand. The device thread looks at every enabled queue, so a write
            // between two queues' registers wakes it for the one below.
            let queue = Int((offset - VirtioPCILayout.notifyOffset) / UInt64(VirtioPCILayout.notifyOffsetMultiplier))
            if queue < doorbells.count { doorbells[queue].event.signal() }
        case VirtioPCILayout.commonOffset..<VirtioPCILayout.commonOffset + VirtioPCILayout.commonLength:
            writeCommon(offset: offset - VirtioPCILayout.commonOffset, size: size, value: value)
        default:
            break
        }
    }

    private func writeCommon(offset: UInt64, size: Int, value: UInt64) {
        var live = false
        let failed: Bool = state.withLock { state in
            switch state.registers.write(offset: offset, size: size, value: value) {
            case .none:
                return false
            case .reset:
                resetDevice(&state)
                return false
            case let .enableQueue(index):
                return !enable(queue: index, in: &state)
            case .driverOK:
                live = true
                return false
            }
        }
        if failed { msix.signal(configurationVector) }
        if live, let remote, let remoteEvents { start(remote, events: remoteEvents) }
    }

    /// Hands the enabled queues to the back-end (outside the lock: it waits for the back-end's
    /// replies); if it cannot take them the device needs a reset.
    private func start(_ remote: any RemoteVirtioDevice, events: RemoteQueueEvents) {
        let (features, queues) = state.withLock { state in
            (state.registers.driverFeatures, state.registers.queues.indices.compactMap { index -> RemoteQueue? in
                let queue = state.registers.queues[index]
                guard queue.enabled else { return nil }
                return RemoteQueue(index: index, size: queue.size, descriptorTable: queue.descriptorTable,
                                   availableRing: queue.driverArea, usedRing: queue.deviceArea,
                                   kick: doorbells[index].event.fileDescriptor, call: events.calls[index].fileDescriptor,
                                   error: events.errors[index].fileDescriptor)
            })
        }
        guard let memory else { return backendFailed() }
        do {
            try remote.start(features: features, queues: queues, memory: memory)
        } catch {
            backendFailed()
        }
    }

    /// The back-end cannot serve the device any more: it needs a reset (2.1.2), and the driver is
    /// told through the configuration vector.
    private func backendFailed() {
        let vector: Int = state.withLock { state in
            _ = needsReset(&state)
            return Int(state.registers.configurationVector)
        }
        msix.signal(vector)
    }

    /// What the driver's reset (device status 0, 4.1.4.3.1) does: registers, queues and the ISR back
    /// to their initial state, and the device type's own state.
    private func resetDevice(_ state: inout State) {
        state.registers.reset()
        state.queues = Array(repeating: nil, count: state.queues.count)
        state.interruptStatus = 0
        device.reset()
    }

    /// Builds queue `index` from its registers; on a bad layout the device needs a reset.
    private func enable(queue index: Int, in state: inout State) -> Bool {
        let registers = state.registers.queues[index]
        guard let memory, registers.size <= registers.maximumSize else { return needsReset(&state) }
        let layout = SplitVirtqueue.Layout(size: registers.size, descriptorTable: registers.descriptorTable,
                                           availableRing: registers.driverArea, usedRing: registers.deviceArea)
        do {
            state.queues[index] = try SplitVirtqueue(layout: layout, memory: memory, features: state.registers.driverFeatures)
            state.registers.queues[index].enabled = true
            return true
        } catch {
            return needsReset(&state)
        }
    }

    private func needsReset(_ state: inout State) -> Bool {
        state.registers.status |= CommonConfiguration.Status.needsReset
        state.interruptStatus |= 2
        return false
    }

    /// Interrupts the driver for queue `index` as a completion would (ISR bit 0, the queue's vector):
    /// for a device whose queue another process serves, when that process says it used buffers
    /// (a vhost-user back end's call eventfd, watched through `watchSources`).
    public func interrupt(queue index: Int) {
        let vector: Int? = state.withLock { state in
            guard state.registers.queues.indices.contains(index) else { return nil }
            state.interruptStatus |= 1
            return Int(state.registers.queues[index].vector)
        }
        if let vector { msix.signal(vector) }
    }

    private var configurationVector: Int { Int(state.withLock { $0.registers.configurationVector }) }

    // MARK: the device thread

    /// Serves every available chain of every enabled queue, then signals the vectors of the
    /// queues whose driver wants an interrupt (outside the lock).
    private func processQueues() {
        vectorsToSignal.removeAll(keepingCapacity: true)
        state.withLock { state in
            let status = state.registers.status
            guard status & CommonConfiguration.Status.driverOK != 0,
                  status & CommonConfiguration.Status.needsReset == 0 else { return }
            for index in state.queues.indices {
                guard let queue = state.queues[index] else { continue }
                if !device.process(queue, index: index) {
                    _ = needsReset(&state)
                    vectorsToSignal.append(Int(state.registers.configurationVector))
                    return
                }
                if queue.needsInterrupt() {
                    state.interruptStatus |= 1
                    vectorsToSignal.append(Int(state.registers.queues[index].vector))
                }
            }
        }
        for vector in vectorsToSignal { msix.signal(vector) }
    }
}
