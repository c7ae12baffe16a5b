import VMMKit

/// The text of `--list-backends` and `--list-devices`.
enum Listings {
    static func backends(_ registry: BackendRegistry) -> String {
        var lines: [String] = []
        for type in registry.backends {
            let availability = type.init().availability()
            let verdict: String
            switch availability {
            case .preferred: verdict = "available (preferred)"
            case .usable: verdict = "available"
            case .unavailable: verdict = "unavailable"
            }
            lines.append("\(type.name)  \(type.summary)")
            lines.append("    \(verdict): \(availability.reason)")
        }
        return lines.joined(separator: "\n")
    }

    static func devices(_ registry: DeviceRegistry) -> String {
        var lines: [String] = []
        for (type, origin) in zip(registry.types, registry.origins) {
            lines.append("\(type.name)  \(type.summary)  [\(origin)]")
            lines.append(contentsOf: type.parameters.map { "    \($0)" })
        }
        lines.append("Use: --device NAME,key=value,...  (ports and addresses in decimal or 0x-hex)")
        return lines.joined(separator: "\n")
    }
}
