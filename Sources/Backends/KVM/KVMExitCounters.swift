import VMMKit

/// The vCPU's ExitStatistics counters as the run loop bumps them: without reference counting.
///
/// Reaching a counter through `statistics.portIO` makes the compiler retain and release it around
/// every increment (VMMKit's classes are opaque to this module). The vCPU's `statistics` owns the
/// counters for the vCPU's whole life, so unretained references are safe here.
struct KVMExitCounters {
    let portIO: Unmanaged<Counter>
    let mmio: Unmanaged<Counter>
    let halt: Unmanaged<Counter>
    let interruptWindow: Unmanaged<Counter>
    let interruptsInjected: Unmanaged<Counter>
    let msr: Unmanaged<Counter>
    let setTPR: Unmanaged<Counter>
    let other: Unmanaged<Counter>
    let paravirtualEOIs: Unmanaged<Counter>
    let doorbells: Unmanaged<Counter>

    init(_ statistics: ExitStatistics) {
        portIO = .passUnretained(statistics.portIO)
        mmio = .passUnretained(statistics.mmio)
        halt = .passUnretained(statistics.halt)
        interruptWindow = .passUnretained(statistics.interruptWindow)
        interruptsInjected = .passUnretained(statistics.interruptsInjected)
        msr = .passUnretained(statistics.msr)
        setTPR = .passUnretained(statistics.setTPR)
        other = .passUnretained(statistics.other)
        paravirtualEOIs = .passUnretained(statistics.paravirtualEOIs)
        doorbells = .passUnretained(statistics.doorbells)
    }
}

extension Unmanaged where Instance == Counter {
    @inline(__always)
    func increment(by amount: UInt64 = 1) { _withUnsafeGuaranteedRef { $0.increment(by: amount) } }
}
