/// SSE3's duplicating moves (SDM vol. 2: MOVSLDUP, MOVSHDUP, MOVDDUP). Its floating-point
/// additions (ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD) run on the host (SSEHostExecution.swift).
extension CPUCore {
    /// MOVSLDUP (sub 0): even dwords duplicated; MOVSHDUP (1): odd dwords; MOVDDUP (2): the low qword
    /// (from an m64 that needs no alignment).
    mutating func sseDuplicate(_ ins: UnsafePointer<DecodedInstruction>) throws(Fault) {
        try checkSSE()
        let i = ins.pointee
        if i.sub == 2 {
            let low = i.isMemory ? try readMemory(ins, 8) : xmm[Int(i.rm & 15) * 2]
            setXMMValue(i.reg, Vector(low, low))
            return
        }
        let d = Self.dwords(try sseSource(ins)), odd = Int(i.sub)
        setXMMValue(i.reg, Self.vector(SIMD4<UInt32>(d[odd], d[odd], d[2 + odd], d[2 + odd])))
    }
}
