// CRMRedaction — the one redaction policy of the hub: which values are personal data (by key name, and by shape in
// free text: e-mail addresses, phone numbers and long digit runs, IBANs, card numbers) and the keyed fingerprint
// that replaces them in both log formats, in every dead-letter reason and in error messages that can carry a value.
import CRMModel
import Crypto
import Foundation
import Synchronization

/// Recognises personal data and replaces it with a keyed fingerprint such as `<email:3f9a12bc45de>`.
///
/// The fingerprint is HMAC-SHA256 of the value under the installation's key, truncated to 12 hex digits: the same
/// value gives the same fingerprint within an installation, so an operator can correlate log lines and dead letters,
/// but a known value cannot be confirmed without the key. The hub installs its policy once at start
/// (``install(_:)``); until then ``installed`` is a policy with a random key for this process.
public struct RedactionPolicy: Sendable {
    private let key: SymmetricKey

    /// A policy keyed by `key` (any length; the installation's secret).
    public init(key: [UInt8]) {
        self.key = SymmetricKey(data: key)
    }

    /// A policy with a fresh random key: fingerprints cannot be correlated with any other process.
    public static func random() -> RedactionPolicy {
        RedactionPolicy(key: RedactionKey.generate())
    }

    private static let current = Mutex(RedactionPolicy.random())

    /// The process-wide policy that dead-letter reasons and error messages are redacted with.
    public static var installed: RedactionPolicy { current.withLock { $0 } }

    /// Makes `policy` the process-wide one (the hub does this once at start, like `LoggingSystem.bootstrap`).
    public static func install(_ policy: RedactionPolicy) {
        current.withLock { $0 = policy }
    }

    // MARK: Fingerprints

    /// `<kind:12 hex digits>`: the keyed fingerprint of `value` (surrounding white space ignored). The kind does not
    /// change the digits, so `<email:…>` and `<text:…>` of one value correlate.
    public func fingerprint(_ value: String, kind: String = "text") -> String {
        let normalized = value.trimmingCharacters(in: .whitespacesAndNewlines)
        let code = HMAC<SHA256>.authenticationCode(for: Array(normalized.utf8), using: key)
        let hex = code.prefix(6).map { byte in
            let text = String(byte, radix: 16)
            return byte < 16 ? "0" + text : text
        }
        return "<\(kind):\(hex.joined())>"
    }

    /// A value described for an operator without revealing it: its fingerprint and length,
    /// e.g. `<text:3f9a12bc45de> (10 chars)`.
    public func describe(_ value: String) -> String {
        "\(fingerprint(value)) (\(value.count) chars)"
    }

    // MARK: Key names

    /// The kind of personal data a key names (`email`, `phone`, `name`, `address`, `dob`, `iban`, `card`, `id`), or
    /// nil. Keys are split into words (`first_name`, `customerEmail`, `billing-address`); `hostname` is not a name.
    public func personalKind(ofKey key: String) -> String? {
        for word in Self.words(of: key) {
            if let kind = Self.personalWords[word] { return kind }
        }
        return nil
    }

    /// True when a key (log metadata, a JSON member, `key=value` in text) names personal data.
    public func isPersonal(key: String) -> Bool { personalKind(ofKey: key) != nil }

    /// A log metadata value: fingerprinted whole when its key names personal data, kept when its key names a
    /// quantity and it is a whole number (`bytes=171501620`: nine digits, which free text would take for a phone
    /// number), otherwise redacted as free text.
    public func redact(value: String, key: String) -> String {
        if let kind = personalKind(ofKey: key) {
            return RedactionScanner.isFingerprint(Array(value.utf8)) ? value : fingerprint(value, kind: kind)
        }
        if Self.isWholeNumber(value), Self.words(of: key).contains(where: Self.quantityWords.contains) {
            return value
        }
        return redact(value)
    }

    /// `42`, `-1`: digits, at most 19, after an optional minus.
    private static func isWholeNumber(_ text: String) -> Bool {
        let digits = text.utf8.first == UInt8(ascii: "-") ? text.utf8.dropFirst() : text.utf8[...]
        return (1...19).contains(digits.count)
            && digits.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
    }

    // MARK: Free text

    /// `text` with every recognisable personal value replaced by its fingerprint: e-mail addresses, phone numbers and
    /// runs of 7 or more digits, IBAN-like and card-like numbers, values after a personal key (`"name": "…"`,
    /// `email=…`), and each of `known` (values the caller knows it sent, e.g. echoed back in an error body).
    /// Fingerprints already in the text are kept as they are, so redacting twice changes nothing.
    public func redact(_ text: String, echoing known: [String] = []) -> String {
        let bytes = Array(text.utf8)
        let spans = RedactionScanner(bytes: bytes, policy: self).spans(echoing: known)
        guard !spans.isEmpty else { return text }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var position = 0
        for span in spans {
            out.append(contentsOf: bytes[position..<span.range.lowerBound])
            let value = String(decoding: bytes[span.range], as: UTF8.self)
            out.append(contentsOf: fingerprint(value, kind: span.kind).utf8)
            position = span.range.upperBound
        }
        out.append(contentsOf: bytes[position...])
        return String(decoding: out, as: UTF8.self)
    }

    /// The text values of a JSON document that sit under a personal key at any depth (`name`, `email`,
    /// `addresses[0].street`; not a `type`, `code`, `country`… member inside one), for ``redact(_:echoing:)`` of an error that may echo the document back.
    /// Empty when `document` is not JSON.
    public func personalValues(inJSON document: [UInt8]) -> [String] {
        guard let value = try? JSONValue.parse(document) else { return [] }
        var found: [String] = []
        collect(value, personal: false, into: &found)
        return found
    }

    private func collect(_ value: JSONValue, personal: Bool, into found: inout [String]) {
        switch value {
        case .string(let text) where personal: found.append(text)
        case .number(let text) where personal: found.append(text)
        case .array(let items): for item in items { collect(item, personal: personal, into: &found) }
        case .object(let members):
            for (key, member) in members {
                let technical = Self.technicalWords.contains(key.lowercased())
                collect(member, personal: isPersonal(key: key) || (personal && !technical), into: &found)
            }
        default: break
        }
    }

    // MARK: Word list

    private static let personalWords: [String: String] = [
        "email": "email", "mail": "email", "emails": "email", "recipient": "email", "sender": "email",
        "phone": "phone", "phones": "phone", "mobile": "phone", "tel": "phone", "telephone": "phone", "fax": "phone",
        "msisdn": "phone", "caller": "phone", "callee": "phone",
        "name": "name", "names": "name", "firstname": "name", "lastname": "name", "surname": "name",
        "fullname": "name", "displayname": "name", "givenname": "name", "familyname": "name",
        "address": "address", "addresses": "address", "street": "address", "postcode": "address", "zip": "address",
        "city": "address",
        "dob": "dob", "birth": "dob", "birthday": "dob", "birthdate": "dob",
        "iban": "iban", "card": "card", "pan": "card", "ssn": "id", "passport": "id",
    ]

    /// Keys whose whole-number values are quantities, never personal data (a file's `bytes`, a row count, an offset).
    private static let quantityWords: Set<String> = [
        "bytes", "size", "rows", "row", "count", "offset", "offsets", "partition", "produced", "lines", "line",
        "seconds", "milliseconds", "ms", "attempt", "attempts",
    ]

    /// Keys whose values describe a personal value rather than hold one (`{"type": "email", "value": "…"}`): not
    /// inherited from a personal parent key.
    private static let technicalWords: Set<String> = [
        "type", "kind", "id", "code", "status", "language", "lang", "country", "currency", "active", "primary",
    ]

    /// `customerEmail` → [customer, email]; `first_name` → [first, name]; `e-mail` → [e, mail].
    static func words(of key: String) -> [String] {
        var words: [String] = []
        var current = ""
        var previousLower = false
        for character in key {
            if character.isLetter || character.isNumber {
                if character.isUppercase && previousLower && !current.isEmpty {
                    words.append(current)
                    current = ""
                }
                current.append(Character(character.lowercased()))
                previousLower = character.isLowercase || character.isNumber
            } else {
                if !current.isEmpty { words.append(current) }
                current = ""
                previousLower = false
            }
        }
        if !current.isEmpty { words.append(current) }
        return words
    }
}
