/// Hand-assembled x86 instructions for the test guests (encodings from SDM vol. 2). Each returns the
/// bytes for 32-bit protected mode unless it says otherwise; in 64-bit mode the same encodings keep
/// their 32-bit operand size except where REX.W (0x48) is added.
enum X86 {
    static func le16(_ value: UInt16) -> [UInt8] { [UInt8(value & 0xff), UInt8(value >> 8)] }
    static func le32(_ value: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }
    static func le64(_ value: UInt64) -> [UInt8] { (0..<8).map { UInt8(truncatingIfNeeded: value >> ($0 * 8)) } }

    /// mov dx, imm16 (66 BA iw in 32/64-bit code)
    static func movDX(_ port: UInt64) -> [UInt8] { [0x66, 0xba] + le16(UInt16(port)) }
    /// mov al, imm8
    static func movAL(_ value: UInt8) -> [UInt8] { [0xb0, value] }
    /// mov ax, imm16
    static func movAX(_ value: UInt16) -> [UInt8] { [0x66, 0xb8] + le16(value) }
    /// mov eax, imm32
    static func movEAX(_ value: UInt32) -> [UInt8] { [0xb8] + le32(value) }
    /// mov ecx, imm32
    static func movECX(_ value: UInt32) -> [UInt8] { [0xb9] + le32(value) }
    /// mov esi, imm32
    static func movESI(_ value: UInt32) -> [UInt8] { [0xbe] + le32(value) }
    /// mov rax, imm64 (64-bit mode: REX.W B8 io)
    static func movRAX(_ value: UInt64) -> [UInt8] { [0x48, 0xb8] + le64(value) }
    /// shr rax, imm8 (64-bit mode: REX.W C1 /5 ib)
    static func shrRAX(_ count: UInt8) -> [UInt8] { [0x48, 0xc1, 0xe8, count] }
    static let outDXAL: [UInt8] = [0xee]
    static let outDXAX: [UInt8] = [0x66, 0xef]
    static let outDXEAX: [UInt8] = [0xef]
    static let inALDX: [UInt8] = [0xec]
    /// rep outsb: ECX bytes from [ESI] to port DX
    static let repOutsb: [UInt8] = [0xf3, 0x6e]
    /// mov eax, [moffs32]
    static func loadEAX(from address: UInt32) -> [UInt8] { [0xa1] + le32(address) }
    /// mov [moffs32], eax
    static func storeEAX(to address: UInt32) -> [UInt8] { [0xa3] + le32(address) }
    /// mov word [disp32], imm16
    static func storeWord(_ value: UInt16, to address: UInt32) -> [UInt8] { [0x66, 0xc7, 0x05] + le32(address) + le16(value) }
    static let rdmsr: [UInt8] = [0x0f, 0x32]
    static let wrmsr: [UInt8] = [0x0f, 0x30]
    static let xorEDXEDX: [UInt8] = [0x31, 0xd2]
    static let sti: [UInt8] = [0xfb]
    static let cli: [UInt8] = [0xfa]
    static let nop: [UInt8] = [0x90]
    static let hlt: [UInt8] = [0xf4]
    static let ud2: [UInt8] = [0x0f, 0x0b]
    /// jmp $ (an endless loop)
    static let jumpToSelf: [UInt8] = [0xeb, 0xfe]

    /// Writes `value` (size of the register used) to `port`.
    static func out(_ port: UInt64, al value: UInt8) -> [UInt8] { movDX(port) + movAL(value) + outDXAL }
    static func out(_ port: UInt64, eax value: UInt32) -> [UInt8] { movDX(port) + movEAX(value) + outDXEAX }
}
