#if canImport(Glibc)
import Glibc
#endif
import Foundation
import SoftBackend
import VMMKit
import XCTest

/// The CPU the Soft backend presents: the host's vendor, family, model and stepping (its undefined
/// flags are the host's), and the MSR set a CPU of that vendor has.
final class SoftCPUModelTests: XCTestCase {
    /// A field of /proc/cpuinfo's first processor, e.g. "vendor_id".
    static func hostCPUInfo(_ field: String) throws -> String {
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].trimmingCharacters(in: .whitespaces) == field {
                return parts[1].trimmingCharacters(in: .whitespaces)
            }
        }
        throw XCTSkip("/proc/cpuinfo has no \(field) line")
    }

    static var hostIsAMD: Bool { (try? hostCPUInfo("vendor_id")) == "AuthenticAMD" }

    func testCPUIDReportsTheHostVendorFamilyModelAndStepping() throws {
        #if !arch(x86_64)
        throw XCTSkip("the host identity is taken on x86-64 hosts only")
        #else
        // xor eax,eax; cpuid; mov r8d,ebx; mov r9d,edx; mov r10d,ecx; mov eax,1; cpuid
        let cpu = try SoftCPUFixture(.long64, code: [0x31, 0xc0, 0x0f, 0xa2, 0x41, 0x89, 0xd8, 0x41, 0x89, 0xd1, 0x41,
                                                     0x89, 0xca, 0xb8, 0x01, 0x00, 0x00, 0x00, 0x0f, 0xa2])
        let registers = try cpu.step(7)
        let vendor = [registers.r8, registers.r9, registers.r10].flatMap { word in (0..<4).map { UInt8((word >> ($0 * 8)) & 0xff) } }
        XCTAssertEqual(String(decoding: vendor, as: UTF8.self), try Self.hostCPUInfo("vendor_id"))
        let signature = UInt32(truncatingIfNeeded: registers.rax)
        let baseFamily = (signature >> 8) & 0xf
        let family = baseFamily == 0xf ? baseFamily + ((signature >> 20) & 0xff) : baseFamily
        let model = ((signature >> 4) & 0xf) | (baseFamily == 6 || baseFamily == 0xf ? ((signature >> 16) & 0xf) << 4 : 0)
        // Linux's /proc/cpuinfo decodes the same fields the same way (arch/x86/lib/cpu.c).
        XCTAssertEqual(String(family), try Self.hostCPUInfo("cpu family"))
        XCTAssertEqual(String(model), try Self.hostCPUInfo("model"))
        XCTAssertEqual(String(signature & 0xf), try Self.hostCPUInfo("stepping"))
        #endif
    }

    /// Runs `mov ecx, index; [mov eax/edx, value; wrmsr;] rdmsr`; returns RDX:RAX, or nil on #GP(0).
    func accessMSR(_ index: UInt32, write value: UInt64? = nil) throws -> UInt64? {
        var code: [UInt8] = [0xb9] + withUnsafeBytes(of: index.littleEndian, Array.init)
        if let value {
            code += [0xb8] + withUnsafeBytes(of: UInt32(truncatingIfNeeded: value).littleEndian, Array.init)
            code += [0xba] + withUnsafeBytes(of: UInt32(truncatingIfNeeded: value >> 32).littleEndian, Array.init)
            code += [0x0f, 0x30]
        }
        code += [0x0f, 0x32]
        let cpu = try SoftCPUFixture(.long64, code: code)
        let outcome = try cpu.cpu.step(instructions: value == nil ? 2 : 5)
        if outcome == .exception(vector: 13, errorCode: 0) { return nil }
        XCTAssertEqual(outcome, .completed)
        let registers = try cpu.cpu.generalRegisters()
        return (registers.rdx << 32) | (registers.rax & 0xffff_ffff)
    }

    /// AMD's legacy counters (APM vol. 2, 13.2.1) on an AMD identity; IA32_MISC_ENABLE on an Intel one;
    /// each #GP on the other vendor, as on hardware.
    func testVendorSpecificMSRsFollowTheReportedVendor() throws {
        let amd = CPUIDModel.softCPU.vendor == "AuthenticAMD"
        let control = try accessMSR(0xc001_0000, write: 0x0043_0076)
        let counter = try accessMSR(0xc001_0007, write: UInt64.max >> 16)
        let miscEnable = try accessMSR(0x1a0)
        if amd {
            XCTAssertEqual(control, 0x0043_0076, "PERF_CTL0: an event select reads back")
            XCTAssertEqual(counter, (1 << 48) - 1, "PERF_CTR3 keeps its 48 bits")
            XCTAssertNil(try accessMSR(0xc001_0003, write: 1 << 42), "reserved event-select bits #GP")
            XCTAssertNil(miscEnable, "IA32_MISC_ENABLE is Intel's")
        } else {
            XCTAssertNil(control, "PERF_CTL0 is AMD's")
            XCTAssertNil(counter, "PERF_CTR3 is AMD's")
            XCTAssertEqual(miscEnable.map { $0 & 1 }, 1, "IA32_MISC_ENABLE: fast strings on")
        }
        XCTAssertEqual(try accessMSR(0x8b), 0, "no microcode revision, on either vendor")
    }

    /// RDPMC reads AMD's legacy counters (APM vol. 3, RDPMC), which Linux's perf uses once the MSRs
    /// answer: before, it raised #GP and Linux's reboot oopsed in perf_reboot.
    func testRDPMCReadsTheAMDCountersTheMSRsHold() throws {
        // mov ecx, PERF_CTR2; mov eax, lo; mov edx, hi; wrmsr; mov ecx, counter; rdpmc
        func rdpmc(counter: UInt32) throws -> UInt64? {
            let code: [UInt8] = [0xb9, 0x06, 0x00, 0x01, 0xc0, 0xb8, 0x78, 0x56, 0x34, 0x12, 0xba, 0xcd, 0xab, 0x00, 0x00,
                                 0x0f, 0x30, 0xb9] + withUnsafeBytes(of: counter.littleEndian, Array.init) + [0x0f, 0x33]
            let cpu = try SoftCPUFixture(.long64, code: code)
            let amd = CPUIDModel.softCPU.vendor == "AuthenticAMD"
            let outcome = try cpu.cpu.step(instructions: amd ? 6 : 4)
            if outcome == .exception(vector: 13, errorCode: 0) { return nil }
            XCTAssertEqual(outcome, .completed)
            let registers = try cpu.cpu.generalRegisters()
            return (registers.rdx << 32) | (registers.rax & 0xffff_ffff)
        }
        if CPUIDModel.softCPU.vendor == "AuthenticAMD" {
            XCTAssertEqual(try rdpmc(counter: 2), 0xabcd_1234_5678, "counter 2 is PERF_CTR2")
            XCTAssertEqual(try rdpmc(counter: 0), 0)
            XCTAssertNil(try rdpmc(counter: 4), "no counter 4")
        } else {
            XCTAssertNil(try rdpmc(counter: 0), "the Intel identity has no counters (WRMSR of PERF_CTR2 faults first)")
        }
    }

    /// HWCR and NB_CFG, which Debian's kernel touches on an AMD identity (before, each gave an
    /// "unchecked MSR access error" in its boot log): HWCR says the TSC runs at P0 frequency and
    /// takes KVM's writable bits; NB_CFG drops writes. Both #GP under an Intel identity.
    func testAMDHardwareAndNorthbridgeConfiguration() throws {
        let hwcr = try accessMSR(0xc001_0015)
        let nbcfg = try accessMSR(0xc001_001f, write: 1 << 46)
        if CPUIDModel.softCPU.vendor == "AuthenticAMD" {
            XCTAssertEqual(hwcr, 1 << 24, "TscFreqSel")
            XCTAssertEqual(try accessMSR(0xc001_0015, write: 1 << 18 | 1 << 24 | 1 << 3), 1 << 18 | 1 << 24)
            XCTAssertNil(try accessMSR(0xc001_0015, write: 1), "SmmLock and the other bits #GP")
            XCTAssertEqual(nbcfg, 0)
        } else {
            XCTAssertNil(hwcr)
            XCTAssertNil(nbcfg)
        }
    }

    func testTheReportedVendorIsTheHostsOnX86() throws {
        #if arch(x86_64)
        XCTAssertEqual(CPUIDModel.softCPU.vendor, try Self.hostCPUInfo("vendor_id"))
        #else
        throw XCTSkip("the host identity is taken on x86-64 hosts only")
        #endif
    }

    /// VMCALL and VMMCALL answer with KVM's hypercall ABI on either vendor (hypercalls.rst): 0 for
    /// KVM_HC_VAPIC_POLL_IRQ, -KVM_ENOSYS for an unknown number, 32 bits wide outside 64-bit mode.
    func testVMCALLAndVMMCALLAnswerWithKVMsHypercallABI() throws {
        for instruction: [UInt8] in [[0x0f, 0x01, 0xc1], [0x0f, 0x01, 0xd9]] {
            // mov eax, 1; hypercall; mov rbx, rax; mov eax, 0x12345; hypercall
            let long = try SoftCPUFixture(.long64, code: [0xb8, 0x01, 0x00, 0x00, 0x00] + instruction
                + [0x48, 0x89, 0xc3, 0xb8, 0x45, 0x23, 0x01, 0x00] + instruction)
            let registers = try long.step(5)
            XCTAssertEqual(registers.rbx, 0, "KVM_HC_VAPIC_POLL_IRQ")
            XCTAssertEqual(registers.rax, UInt64(bitPattern: -1000), "unknown: -KVM_ENOSYS")
            XCTAssertEqual(long.cpu.statistics.hypercall.value, 2)
            let protected = try SoftCPUFixture(.protected32, code: [0xb8, 0x45, 0x23, 0x01, 0x00] + instruction)
            XCTAssertEqual(try protected.step(2).rax, 0xffff_fc18, "-KVM_ENOSYS in EAX")
        }
    }

    /// KVM's CPUID leaves and its paravirtual clock (cpuid.rst, msr.rst): the signature, the
    /// features implemented, and a vCPU time structure whose reading is the host's monotonic time.
    func testKVMSignatureAndClock() throws {
        // cpuid(0x40000000); save ebx/ecx/edx; cpuid(0x40000001); save eax
        let signature = try SoftCPUFixture(.long64, code: [0xb8, 0x00, 0x00, 0x00, 0x40, 0x0f, 0xa2, 0x41, 0x89, 0xd8,
                                                            0x41, 0x89, 0xc9, 0x41, 0x89, 0xd2, 0xb8, 0x01, 0x00, 0x00,
                                                            0x40, 0x0f, 0xa2])
        let leaves = try signature.step(8)
        let name = [leaves.r8, leaves.r9, leaves.r10].flatMap { word in (0..<4).map { UInt8(truncatingIfNeeded: word >> ($0 * 8)) } }
        XCTAssertEqual(String(decoding: name.prefix(9), as: UTF8.self), "KVMKVMKVM")
        // No local APIC in this fixture, so no PV_EOI; the Soft CPU's own interfaces, all offered.
        XCTAssertEqual(leaves.rax & 0xffff_ffff, 1 << 3 | 1 << 1 | 1 << 24 | 1 << 7 | 1 << 11 | 1 << 13,
                       "CLOCKSOURCE2, NOP_IO_DELAY, CLOCKSOURCE_STABLE_BIT, PV_UNHALT, PV_SEND_IPI, PV_SCHED_YIELD")

        // wrmsr(MSR_KVM_SYSTEM_TIME_NEW, 0x5001) then wrmsr(MSR_KVM_WALL_CLOCK_NEW, 0x5100); rdtsc
        let clock = try SoftCPUFixture(.long64, code: [0xb9, 0x01, 0x4d, 0x56, 0x4b, 0xb8, 0x01, 0x50, 0x00, 0x00,
                                                        0x31, 0xd2, 0x0f, 0x30, 0xb9, 0x00, 0x4d, 0x56, 0x4b, 0xb8,
                                                        0x00, 0x51, 0x00, 0x00, 0x0f, 0x30, 0x0f, 0x31])
        let registers = try clock.step(8)
        let memory = clock.machine.memory
        let version = try memory.read(UInt32.self, at: 0x5000)
        XCTAssertEqual(version & 1, 0, "an even version: the structure is complete")
        XCTAssertNotEqual(version, 0)
        let tscTimestamp = try memory.read(UInt64.self, at: 0x5008)
        let systemTime = try memory.read(UInt64.self, at: 0x5010)
        XCTAssertEqual(try memory.read(UInt32.self, at: 0x5018), 1 << 31, "tsc_to_system_mul")
        XCTAssertEqual(try memory.read(UInt8.self, at: 0x501c), 1, "tsc_shift")
        XCTAssertEqual(try memory.read(UInt8.self, at: 0x501d), 1, "PVCLOCK_TSC_STABLE_BIT")
        // The guest's reading (pvclock: system_time + ((tsc - tsc_timestamp) << shift) * mul >> 32).
        let tsc = registers.rdx << 32 | registers.rax & 0xffff_ffff
        let product = ((tsc &- tscTimestamp) << 1).multipliedFullWidth(by: 1 << 31)
        let reading = systemTime &+ (product.high << 32 | product.low >> 32)
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let host = UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
        XCTAssertLessThanOrEqual(reading, host, "never ahead of the host's clock")
        XCTAssertGreaterThan(reading, systemTime)
        XCTAssertEqual(try memory.read(UInt32.self, at: 0x5100) & 1, 0, "wall clock version even")
        var real = timespec()
        clock_gettime(CLOCK_REALTIME, &real)
        let wallSeconds = UInt64(try memory.read(UInt32.self, at: 0x5104))
        XCTAssertEqual(Double(wallSeconds) + Double(host) / 1e9, Double(real.tv_sec), accuracy: 5,
                       "wall clock + system time is the time of day")
    }

    /// PCID and INVPCID are not implemented, so CPUID hides both: INVPCID is #UD and CR4.PCIDE #GP,
    /// as on a CPU without them (SDM vol. 2, INVPCID; vol. 3, 2.5).
    func testPCIDAndINVPCIDAreHiddenAndRefused() throws {
        let model = CPUIDModel.softCPU
        XCTAssertEqual(model.leaf1ECX & (1 << 17), 0, "CPUID.1:ECX.PCID")
        XCTAssertEqual(model.leaf7EBX & (1 << 10), 0, "CPUID.7:EBX.INVPCID")
        // invpcid rax, [rax]
        let invpcid = try SoftCPUFixture(.long64, code: [0x66, 0x0f, 0x38, 0x82, 0x00])
        XCTAssertEqual(try invpcid.cpu.step(instructions: 1), .exception(vector: 6, errorCode: nil))
        // mov rax, cr4; bts rax, 17; mov cr4, rax
        let pcide = try SoftCPUFixture(.long64, code: [0x0f, 0x20, 0xe0, 0x48, 0x0f, 0xba, 0xe8, 0x11, 0x0f, 0x22, 0xe0])
        XCTAssertEqual(try pcide.cpu.step(instructions: 3), .exception(vector: 13, errorCode: 0))
    }
}

