import CRMDelivery
import CRMModel
import CRMRedaction
import Logging
import Synchronization

/// Creates or updates Tryton parties from `ERPParty` documents (what the `customer-to-erp-party` mapping
/// produces): the party's `code` is the golden customer id, so a re-delivery or an update finds the party it
/// created before instead of adding a duplicate (Tryton also keeps `code` unique).
///
/// - absent party: created with its name, language, e-mail and phone contact mechanisms and addresses;
/// - existing party: name and language written when they changed; contact mechanisms and addresses that are
///   missing are added, existing ones are kept (people in the ERP may have added their own);
/// - nothing changed: no write at all.
///
/// Classification: connection refused, timeouts, HTTP 5xx/429, concurrency errors and refused logins (the
/// credentials may be rotated while the message waits) are transient; Tryton validation errors (`UserError`) and
/// documents without `code` or `name` are permanent, with the server's message. `party_type` and
/// `marketing_email` have no field in a plain Tryton and are not sent.
public struct TrytonPartySinkTarget: SinkTarget {
    private let client: TrytonClient
    private let logger: Logger
    private let lookups = LookupCache()

    public init(client: TrytonClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public var description: String { "tryton-party \(client.target)" }

    public func deliver(_ message: SinkMessage) async -> SinkOutcome {
        let party: ERPParty
        switch ERPParty.parse(message.value) {
        case .success(let parsed): party = parsed
        case .failure(let problem):
            return .permanent(reason: "message \(message.id): \(RedactionPolicy.installed.redact(problem.description))")
        }
        do {
            try await upsert(party, messageID: message.id)
            return .delivered
        } catch {
            return classify(error, messageID: message.id, sent: message.value)
        }
    }

    /// What happened to one party, for tests and logs.
    public enum UpsertResult: Sendable, Equatable {
        case created(id: Int)
        case updated(id: Int)
        case unchanged(id: Int)
    }

    /// Creates or updates the party for `party.code`.
    @discardableResult
    public func upsert(_ party: ERPParty, messageID: String) async throws(TrytonError) -> UpsertResult {
        if let existing = try await findParty(code: party.code) {
            return try await update(existing, with: party, messageID: messageID)
        }
        do {
            let id = try await create(party)
            logger.info("Tryton party created", metadata: ["id": "\(messageID)", "party": "\(id)"])
            return .created(id: id)
        } catch {
            // Two deliveries racing on one code: the unique constraint refused the second create; update instead.
            guard case .user = error.kind, let existing = try await findParty(code: party.code) else { throw error }
            return try await update(existing, with: party, messageID: messageID)
        }
    }

    /// The outcome of a failed upsert; Tryton's message is redacted, including the values of `sent` it echoes
    /// (`The name "…" is not valid`).
    private func classify(_ error: TrytonError, messageID: String, sent: [UInt8]) -> SinkOutcome {
        let redaction = RedactionPolicy.installed
        let reason = redaction.redact(error.description, echoing: redaction.personalValues(inJSON: sent))
        if case .authentication = error.kind {
            logger.warning(
                "Tryton refused the login; the message waits for a retry (check the connector's user and password secret)",
                metadata: ["id": "\(messageID)", "error": "\(reason)"])
        }
        return error.isTransient ? .transient(reason: reason) : .permanent(reason: reason)
    }

    // MARK: Lookups

    private struct ExistingParty {
        var id: Int
        var name: String
        var lang: Int?
        var mechanisms: Set<ContactKey>
        var addresses: Set<AddressKey>
    }

    private func findParty(code: String) async throws(TrytonError) -> ExistingParty? {
        let domain: JSONValue = [["code", "=", .string(code)]]
        let found = try await client.call(
            "model.party.party.search_read",
            [domain, 0, 1, .null, ["id", "name", "lang", "contact_mechanisms", "addresses"]],
            context: [("active_test", false)])
        guard let record = found[0], let idText = record["id"]?.scalarText, let id = Int(idText) else { return nil }
        let mechanisms = try await client.searchRead(
            "party.contact_mechanism", domain: [["party", "=", .number(idText)]], fields: ["type", "value"])
        let addresses = try await client.searchRead(
            "party.address", domain: [["party", "=", .number(idText)]],
            fields: ["street", "city", "postal_code", "country.code"])
        return ExistingParty(
            id: id, name: record["name"]?.stringValue ?? "", lang: record["lang"]?.scalarText.flatMap { Int($0) },
            mechanisms: Set(mechanisms.compactMap(ContactKey.init(tryton:))),
            addresses: Set(addresses.map(AddressKey.init(tryton:))))
    }

    private func languageID(_ code: String?) async throws(TrytonError) -> Int? {
        guard let code, !code.isEmpty else { return nil }
        if let cached = lookups.language(code) { return cached }
        let ids = try await client.search("ir.lang", domain: [["code", "=", .string(code)]], limit: 1)
        lookups.setLanguage(code, ids.first)
        if ids.isEmpty {
            logger.debug("language not in Tryton; party keeps its default", metadata: ["lang": "\(code)"])
        }
        return ids.first
    }

    private func countryID(_ code: String?) async throws(TrytonError) -> Int? {
        guard let code, !code.isEmpty else { return nil }
        let upper = code.uppercased()
        if let cached = lookups.country(upper) { return cached }
        let ids = try await client.search("country.country", domain: [["code", "=", .string(upper)]], limit: 1)
        lookups.setCountry(upper, ids.first)
        return ids.first
    }

    // MARK: Writes

    private func create(_ party: ERPParty) async throws(TrytonError) -> Int {
        var values: [(String, JSONValue)] = [("code", .string(party.code)), ("name", .string(party.name))]
        if let lang = try await languageID(party.lang) { values.append(("lang", .number(String(lang)))) }
        let mechanisms = party.mechanisms.map(\.trytonValues)
        if !mechanisms.isEmpty { values.append(("contact_mechanisms", [["create", .array(mechanisms)]])) }
        let addresses = try await addressValues(party.addresses)
        if !addresses.isEmpty { values.append(("addresses", [["create", .array(addresses)]])) }
        let ids = try await client.create("party.party", [.object(values)])
        guard let id = ids.first else {
            throw TrytonError(
                .protocolError(status: 200, message: "create returned no id"), method: "model.party.party.create",
                target: client.target)
        }
        return id
    }

    private func update(
        _ existing: ExistingParty, with party: ERPParty, messageID: String
    ) async throws(TrytonError) -> UpsertResult {
        var values: [(String, JSONValue)] = []
        if existing.name != party.name { values.append(("name", .string(party.name))) }
        if let lang = try await languageID(party.lang), lang != existing.lang {
            values.append(("lang", .number(String(lang))))
        }
        let newMechanisms = party.mechanisms.filter { !existing.mechanisms.contains($0) }
        if !newMechanisms.isEmpty {
            values.append(("contact_mechanisms", [["create", .array(newMechanisms.map(\.trytonValues))]]))
        }
        let newAddresses = party.addresses.filter { !existing.addresses.contains($0.key) }
        let addressRecords = try await addressValues(newAddresses)
        if !addressRecords.isEmpty { values.append(("addresses", [["create", .array(addressRecords)]])) }
        guard !values.isEmpty else {
            logger.debug("Tryton party unchanged", metadata: ["id": "\(messageID)", "party": "\(existing.id)"])
            return .unchanged(id: existing.id)
        }
        try await client.write("party.party", ids: [existing.id], .object(values))
        logger.info(
            "Tryton party updated",
            metadata: [
                "id": "\(messageID)", "party": "\(existing.id)", "fields": "\(values.map(\.0).joined(separator: ","))",
            ])
        return .updated(id: existing.id)
    }

    private func addressValues(_ addresses: [ERPParty.Address]) async throws(TrytonError) -> [JSONValue] {
        var records: [JSONValue] = []
        for address in addresses {
            var values: [(String, JSONValue)] = []
            if !address.street.isEmpty { values.append(("street", .string(address.street))) }
            if let city = address.city { values.append(("city", .string(city))) }
            if let zip = address.postalCode { values.append(("postal_code", .string(zip))) }
            if let country = try await countryID(address.country) {
                values.append(("country", .number(String(country))))
            }
            records.append(.object(values))
        }
        return records
    }
}

/// A contact mechanism compared the way the sink decides whether to add it (type and trimmed value; e-mail
/// addresses case-insensitively, phone numbers without spaces or punctuation).
struct ContactKey: Hashable, Sendable {
    var type: String
    var value: String

    init(type: String, value: String) {
        self.type = type
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        switch type {
        case "email": self.value = trimmed.lowercased()
        case "phone", "mobile", "fax": self.value = Self.compactPhone(trimmed)
        default: self.value = trimmed
        }
    }

    /// `+44 7700 900-123` → `+447700900123` (Tryton formats phone numbers when python-phonenumbers is installed).
    static func compactPhone(_ text: String) -> String {
        var result = ""
        for character in text where character.isNumber || (character == "+" && result.isEmpty) {
            result.append(character)
        }
        return result
    }

    init?(tryton record: JSONValue) {
        guard let type = record["type"]?.stringValue, let value = record["value"]?.stringValue else { return nil }
        self.init(type: type, value: value)
    }

    var trytonValues: JSONValue { .object([("type", .string(type)), ("value", .string(value))]) }
}

/// An address compared by street, city and postal code (case- and space-insensitive).
struct AddressKey: Hashable, Sendable {
    var street: String
    var city: String
    var postalCode: String

    init(street: String?, city: String?, postalCode: String?) {
        self.street = Self.folded(street)
        self.city = Self.folded(city)
        self.postalCode = Self.folded(postalCode)
    }

    init(tryton record: JSONValue) {
        self.init(
            street: record["street"]?.stringValue, city: record["city"]?.stringValue,
            postalCode: record["postal_code"]?.stringValue)
    }

    private static func folded(_ text: String?) -> String {
        (text ?? "").lowercased().split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }
}

/// Language and country ids by code, looked up once per target.
private final class LookupCache: Sendable {
    private let languages = Mutex<[String: Int?]>([:])
    private let countries = Mutex<[String: Int?]>([:])

    func language(_ code: String) -> Int? { languages.withLock { $0[code] ?? nil } }
    func setLanguage(_ code: String, _ id: Int?) { if let id { languages.withLock { $0[code] = id } } }
    func country(_ code: String) -> Int? { countries.withLock { $0[code] ?? nil } }
    func setCountry(_ code: String, _ id: Int?) { if let id { countries.withLock { $0[code] = id } } }
}
