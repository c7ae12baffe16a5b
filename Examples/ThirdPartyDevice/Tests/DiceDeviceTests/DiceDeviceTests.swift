import DiceDevice
import VMMKit
import XCTest

final class DiceDeviceTests: XCTestCase {
    func testAddedThroughMachineAddItAnswersOnItsPorts() throws {
        let machine = try Machine(memorySize: 2 << 20, vcpuCount: 1)
        try machine.add(DiceDevice(port: 0x700, seed: 7))
        let rolls = (0..<50).map { _ in machine.ports.read(0x700, size: 1, vcpu: 0) }
        XCTAssertTrue(rolls.allSatisfy { (1...6).contains($0) }, "\(rolls)")
        XCTAssertGreaterThan(Set(rolls).count, 1, "the dice are not stuck")
        XCTAssertEqual(machine.ports.read(0x701, size: 1, vcpu: 0), 50)
        machine.ports.write(0x700, size: 1, value: 7, vcpu: 0)
        XCTAssertEqual((0..<50).map { _ in machine.ports.read(0x700, size: 1, vcpu: 0) }, rolls, "reseeding repeats")
    }

    func testRegistryBuildsItFromASpecification() throws {
        var registry = DeviceRegistry()
        try registry.register(DiceDevice.deviceType)
        let machine = try Machine(memorySize: 2 << 20, vcpuCount: 1)
        try machine.add(registry.makeDevice("dice,port=0x710,seed=3"))
        XCTAssertTrue((1...6).contains(machine.ports.read(0x710, size: 1, vcpu: 0)))
        XCTAssertThrowsError(try registry.makeDevice("dice,seed=300"))
    }
}
