import CRMModel

/// Tryton's JSON-RPC encodes dates, times and decimals as tagged objects (`{"__class__": "Decimal", "decimal":
/// "12.50"}`). These helpers turn them into plain JSON for mappings, and build them for search domains.
public enum TrytonValue {
    /// `value` with every tagged object replaced: `datetime` → `"2026-11-25T09:32:30.988119"` (UTC, fixed width so
    /// the text sorts like the time), `date` → `"2026-11-25"`, `time` → `"09:32:30"`, `Decimal` → its text as a string,
    /// `timedelta` → seconds as a number, `bytes` → the base64 text.
    public static func plain(_ value: JSONValue) -> JSONValue {
        switch value {
        case .array(let items):
            return .array(items.map(plain))
        case .object(let members):
            if let tagged = untag(value) { return tagged }
            return .object(members.map { member in (member.0, plain(member.1)) })
        default:
            return value
        }
    }

    /// A `datetime` tagged object for the plain text `plain(_:)` produces, or nil if `text` is not such a time.
    public static func datetime(_ text: String) -> JSONValue? {
        let parts = text.split(separator: "T", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-").compactMap { Int($0) }
        let clock = parts[1].split(separator: ":")
        guard date.count == 3, clock.count == 3, let hour = Int(clock[0]), let minute = Int(clock[1]) else {
            return nil
        }
        let secondParts = clock[2].split(separator: ".", maxSplits: 1)
        guard let second = Int(secondParts[0]) else { return nil }
        var microsecond = 0
        if secondParts.count == 2 {
            let digits = String(secondParts[1].prefix(6)).padding(toLength: 6, withPad: "0", startingAt: 0)
            guard let value = Int(digits) else { return nil }
            microsecond = value
        }
        return .object([
            ("__class__", .string("datetime")), ("year", number(date[0])), ("month", number(date[1])),
            ("day", number(date[2])),
            ("hour", number(hour)), ("minute", number(minute)), ("second", number(second)),
            ("microsecond", number(microsecond)),
        ])
    }

    private static func untag(_ value: JSONValue) -> JSONValue? {
        guard let tag = value["__class__"]?.stringValue else { return nil }
        switch tag {
        case "Decimal":
            guard let text = value["decimal"]?.scalarText else { return nil }
            return .string(text)
        case "date":
            return .string(dateText(value))
        case "datetime":
            return .string("\(dateText(value))T\(timeText(value, fraction: true))")
        case "time":
            return .string(timeText(value, fraction: false))
        case "timedelta":
            return value["seconds"] ?? .null
        case "bytes":
            return value["base64"] ?? .null
        default:
            return nil
        }
    }

    private static func dateText(_ value: JSONValue) -> String {
        "\(padded(value["year"], 4))-\(padded(value["month"], 2))-\(padded(value["day"], 2))"
    }

    private static func timeText(_ value: JSONValue, fraction: Bool) -> String {
        let text = "\(padded(value["hour"], 2)):\(padded(value["minute"], 2)):\(padded(value["second"], 2))"
        return fraction ? "\(text).\(padded(value["microsecond"], 6))" : text
    }

    private static func padded(_ value: JSONValue?, _ width: Int) -> String {
        let text = value?.scalarText ?? "0"
        return text.count >= width ? text : String(repeating: "0", count: width - text.count) + text
    }

    private static func number(_ value: Int) -> JSONValue { .number(String(value)) }
}
