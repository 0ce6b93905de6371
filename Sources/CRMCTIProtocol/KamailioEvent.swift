import CRMModel

/// Parses the JSON call events `deploy/cti/kamailio.cfg` relays over evapi or POSTs with http_client:
///
/// ```json
/// {"source":"kamailio","event":"failed","call_id":"1-2@10.0.0.1","from":"02079460018","to":"2001",
///  "ts":1795598851.695542,"code":486}
/// ```
/// `event` is one of `ringing`, `answered`, `hangup`, `failed`; `call_id` is required; `ts` is epoch seconds (a number
/// or a numeric string; `receivedAt` when missing); `code` (SIP status, 0 = none) and `duration` (seconds) are optional.
public enum KamailioEventParser {
    static let input = "kamailio"

    /// One event from one evapi frame's payload.
    /// - Throws: ``CTIParseError`` (`json`, `missingField`, `invalidField`); never traps on garbage.
    public static func parse(_ payload: [UInt8], receivedAt: Double) throws(CTIParseError) -> CallEvent {
        let document: JSONValue
        do {
            document = try JSONValue.parse(payload, limits: JSONLimits(maxDepth: 8, maxBytes: 64 << 10))
        } catch {
            throw CTIParseError(.json, input: input, error.description)
        }
        guard case .object = document else {
            throw CTIParseError(.json, input: input, "expected a JSON object, found \(document.typeName)")
        }
        let eventName = try requiredString(document, "event")
        guard let kind = CallEvent.Kind(rawValue: eventName) else {
            throw CTIParseError(.invalidField, input: input, "unknown event '\(eventName.prefix(32))'")
        }
        let callID = try requiredString(document, "call_id")
        let from = try optionalString(document, "from") ?? ""
        let to = try optionalString(document, "to") ?? ""
        let timestamp = try optionalNumber(document, "ts") ?? receivedAt
        let code = try optionalNumber(document, "code").map { Int($0) }
        let duration = try optionalNumber(document, "duration").map { Int($0) }
        let source = try optionalString(document, "source") ?? "kamailio"
        return CallEvent(
            callID: callID, kind: kind, from: from, to: to, timestamp: timestamp,
            sipCode: code.flatMap { $0 > 0 ? $0 : nil }, durationSeconds: duration, source: source)
    }

    static func requiredString(_ object: JSONValue, _ field: String) throws(CTIParseError) -> String {
        guard let value = object[field], !value.isNull else {
            throw CTIParseError(.missingField, input: input, "field '\(field)' is missing")
        }
        guard let text = value.scalarText, !text.isEmpty else {
            throw CTIParseError(.missingField, input: input, "field '\(field)' is empty or not a string")
        }
        return text
    }

    static func optionalString(_ object: JSONValue, _ field: String) throws(CTIParseError) -> String? {
        guard let value = object[field], !value.isNull else { return nil }
        guard let text = value.scalarText else {
            throw CTIParseError(
                .invalidField, input: input, "field '\(field)' must be a string, found \(value.typeName)")
        }
        return text
    }

    static func optionalNumber(_ object: JSONValue, _ field: String) throws(CTIParseError) -> Double? {
        guard let value = object[field], !value.isNull else { return nil }
        let number: Double? =
            switch value {
            case .number(let text): Double(text)
            case .string(let text): Double(text)
            default: nil
            }
        guard let number, number.isFinite, number >= 0, number < 1e12 else {
            throw CTIParseError(
                .invalidField, input: input, "field '\(field)' must be a non-negative number, found \(value.typeName)")
        }
        return number
    }
}
