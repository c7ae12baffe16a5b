import Foundation
import VMMKit

/// COM1's transmit side as the system guests use it: bytes written to THR with DLAB clear are
/// kept, LSR always reports an empty transmitter. Enough to capture a transcript in-process.
final class SerialTranscript: Device, BusDevice {
    let name = "serial transcript@0x3f8"
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var lineControl: UInt64 = 0

    func attach(to machine: Machine) throws { try machine.ports.claim(base: 0x3f8, length: 8, by: self, name: name) }

    func read(_ access: BusAccess) -> UInt64 {
        switch access.offset {
        case 3: return lock.withLock { lineControl }
        case 5: return 0x60 // LSR: THRE and TEMT (PC16550D data sheet)
        default: return 0
        }
    }

    func write(_ access: BusAccess, value: UInt64) {
        lock.withLock {
            switch access.offset {
            case 0 where lineControl & 0x80 == 0: bytes.append(UInt8(truncatingIfNeeded: value))
            case 3: lineControl = value & 0xff
            default: break
            }
        }
    }

    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }
}

/// Port 0xf4 as QEMU's isa-debug-exit: a write ends the run with that value.
final class ExitPort: Device, BusDevice {
    let name = "exit port@0xf4"
    private var runControl: RunControl?

    func attach(to machine: Machine) throws {
        try machine.ports.claim(base: 0xf4, length: 4, by: self, name: name)
        runControl = machine.runControl
    }

    func read(_ access: BusAccess) -> UInt64 { 0 }
    func write(_ access: BusAccess, value: UInt64) { runControl?.requestStop(.guestExit(value: UInt32(truncatingIfNeeded: value))) }
}
