/// The target description gdb reads with qXfer:features:read:target.xml (gdb manual, "Target
/// Descriptions"): the architecture and every register of `GDBRegisterLayout` by feature, with the
/// flag and vector types they use. gdb numbers the registers in document order, which is the order
/// of the `g` packet.
enum GDBTargetDescription {
    static func xml(_ layout: GDBRegisterLayout) -> String {
        var document = """
        <?xml version="1.0"?>
        <!DOCTYPE target SYSTEM "gdb-target.dtd">
        <target version="1.0">
        <architecture>\(layout.architecture == .x86_64 ? "i386:x86-64" : "i386")</architecture>

        """
        for feature in GDBFeature.allCases {
            let members = layout.registers.filter { $0.feature == feature }
            guard !members.isEmpty else { continue }
            document += "<feature name=\"\(feature.rawValue)\">\n"
            document += types(of: feature)
            for register in members {
                document += "<reg name=\"\(register.name)\" bitsize=\"\(register.bits)\" type=\"\(register.type)\""
                if let group = register.group { document += " group=\"\(group)\"" }
                document += "/>\n"
            }
            document += "</feature>\n"
        }
        return document + "</target>\n"
    }

    /// RFLAGS and MXCSR bits by name (SDM vol. 1, 3.4.3 and 10.2.3), and the 128-bit vector union
    /// gdb's own SSE feature defines.
    private static func types(of feature: GDBFeature) -> String {
        switch feature {
        case .core:
            return flags("i386_eflags", [("CF", 0), ("", 1), ("PF", 2), ("AF", 4), ("ZF", 6), ("SF", 7), ("TF", 8),
                                         ("IF", 9), ("DF", 10), ("OF", 11), ("NT", 14), ("RF", 16), ("VM", 17),
                                         ("AC", 18), ("VIF", 19), ("VIP", 20), ("ID", 21)])
        case .sse:
            let vectors = [("v4f", "ieee_single", 4), ("v2d", "ieee_double", 2), ("v16i8", "int8", 16),
                           ("v8i16", "int16", 8), ("v4i32", "int32", 4), ("v2i64", "int64", 2)]
            var text = vectors.map { "<vector id=\"\($0.0)\" type=\"\($0.1)\" count=\"\($0.2)\"/>\n" }.joined()
            text += "<union id=\"vec128\">\n"
            for (name, type) in [("v4_float", "v4f"), ("v2_double", "v2d"), ("v16_int8", "v16i8"), ("v8_int16", "v8i16"),
                                 ("v4_int32", "v4i32"), ("v2_int64", "v2i64"), ("uint128", "uint128")] {
                text += "<field name=\"\(name)\" type=\"\(type)\"/>\n"
            }
            text += "</union>\n"
            return text + flags("i386_mxcsr", [("IE", 0), ("DE", 1), ("ZE", 2), ("OE", 3), ("UE", 4), ("PE", 5), ("DAZ", 6),
                                               ("IM", 7), ("DM", 8), ("ZM", 9), ("OM", 10), ("UM", 11), ("PM", 12), ("FZ", 15)])
        case .segments, .system:
            return ""
        }
    }

    private static func flags(_ id: String, _ bits: [(String, Int)]) -> String {
        "<flags id=\"\(id)\" size=\"4\">\n"
            + bits.map { "<field name=\"\($0.0)\" start=\"\($0.1)\" end=\"\($0.1)\"/>\n" }.joined()
            + "</flags>\n"
    }
}
