import VMMKit

extension MC146818 {
    /// The latest start time accepted: 9999-12-31 23:59:59 UTC, the last second four year digits show.
    static let latestStart: UInt64 = 253_402_300_799

    /// `--device rtc`: the PC board attaches one already; naming it replaces that one, so the
    /// clock can be started at a fixed time for reproducible runs.
    public static let deviceType = DeviceType(
        name: defaultName,
        summary: "MC146818 real-time clock and CMOS RAM at ports 0x70-0x71, IRQ 8; every PC has one already, this replaces it",
        parameters: [
            "start=SECONDS  Unix time the clock starts at (default: the host's UTC time)",
        ]
    ) { arguments in
        guard let seconds = try arguments.integer("start") else { return MC146818() }
        guard seconds <= latestStart else {
            throw DeviceSpecificationError.badValue(defaultName, "start", String(seconds))
        }
        return MC146818(start: UTCTime(seconds: Int64(seconds)))
    }
}
